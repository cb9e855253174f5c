//! 编译练习、运行它们的测试，把结果整理成 [`Outcome`]。
//!
//! 一次处理一个学生的几个练习：先编译评分用的测试程序（里面没有学生的代码），
//! 再用一条 cargo 命令编译学生的全部练习程序（`--keep-going`：一个编译不过，别的照样编译），
//! 最后直接运行测试程序一次，让这些练习的测试同时跑：一个卡住的程序只花一次等待的时间。

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exercises::Exercise;

/// 编译评分用的测试程序最多用多久（第一次要编译全部依赖，所以给得宽一些）。
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// 编译学生的练习最多用多久：依赖已经编译好了，正常几秒钟；超过它算学生的编译失败
/// （例如一个编译期永远算不完的常量）。
const STUDENT_BUILD_LIMIT: Duration = Duration::from_secs(300);
/// 一次运行测试最多用多久。每个测试自己另有 60 秒的时限，这里只是最后一道保险。
const TEST_LIMIT: Duration = Duration::from_secs(240);
/// 测试程序的输出最多留下多少字节、一行最多多长（多出来的读了就扔）。
const MAX_OUTPUT: usize = 16 * 1024 * 1024;
const MAX_LINE: u64 = 64 * 1024;
/// 同时运行的测试最多几个：一个卡住的程序只花一次等待的时间，又不至于把机器压得太满。
const MAX_THREADS: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// 全部测试通过
    Passed,
    /// 练习文件和原始的练习一模一样，或者里面还留着 todo!()
    NotStarted,
    /// 编译不过
    CompileError,
    /// 有测试没通过
    Failed,
    /// 超过了时限
    TimedOut,
    /// 评分的规格（测试、快照、评分用的程序）被改动过：不给分
    Tampered,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Passed => "通过",
            State::NotStarted => "尚未完成",
            State::CompileError => "编译失败",
            State::Failed => "未通过",
            State::TimedOut => "超时",
            State::Tampered => "篡改",
        }
    }

    /// 机器可读的名字（JSON、缓存文件里用）。
    pub fn key(self) -> &'static str {
        match self {
            State::Passed => "passed",
            State::NotStarted => "not_started",
            State::CompileError => "compile_error",
            State::Failed => "failed",
            State::TimedOut => "timed_out",
            State::Tampered => "tampered",
        }
    }
}

/// 一个测试的结果。
pub struct TestResult {
    /// 测试程序里的名字，例如 `ex_2_1_server_transcript`
    pub name: String,
    /// 给学生看的一句话
    pub title: String,
    pub passed: bool,
}

/// 一个练习的检查结果。
pub struct Outcome {
    pub exercise: &'static Exercise,
    pub state: State,
    pub tests: Vec<TestResult>,
    /// 给学生看的说明：第一个没通过的测试说了什么，或者编译器的原话
    pub detail: String,
    pub seconds: f64,
}

impl Outcome {
    pub fn passed_tests(&self) -> usize {
        self.tests.iter().filter(|t| t.passed).count()
    }

    /// 得分：按通过的测试占的比例给分；篡改一律 0 分。
    pub fn points(&self) -> f64 {
        if self.state == State::Tampered || self.tests.is_empty() {
            return 0.0;
        }
        f64::from(self.exercise.points) * self.passed_tests() as f64 / self.tests.len() as f64
    }

    /// 第一个没通过的测试（按练习清单里的顺序，最能说明问题的在前）。
    pub fn first_failure(&self) -> Option<&TestResult> {
        self.tests.iter().find(|t| !t.passed)
    }
}

/// 检查过程中发生的事，给终端或进度条显示。
pub enum Progress<'a> {
    Building(&'a [&'static str]),
    Running(usize),
    /// 没通过的几个测试单独再跑一次
    Retrying(usize),
    TestDone {
        title: &'a str,
        passed: bool,
    },
}

/// 一次检查：在 `root`（一份练习册）里编译、测试 `exercises`。
pub struct Job<'a> {
    pub root: &'a Path,
    /// 编译产物放在哪里
    pub target_dir: &'a Path,
    /// 学生的程序在哪个目录里运行（练习册以外）
    pub scratch: &'a Path,
    /// 要检查的练习，以及它是否和原始的练习一模一样（一样就不必编译和测试）
    pub exercises: Vec<(&'static Exercise, bool)>,
    pub progress: &'a (dyn Fn(Progress) + Sync),
    /// 评分副本里编译时不带调试信息：程序小得多，链接和核对 SHA-256 都快得多
    /// （学生自己的 target/ 不用它，免得和平时的 cargo build 来回重新编译）
    pub lean: bool,
}

/// 一个练习的编译结果。
pub enum Build {
    /// 和原始练习一模一样：不编译
    Untouched,
    /// 编译失败：rustc 的原话
    Failed(String),
    Ready,
}

/// 编译完成的一切：每个练习的结果，以及测试时要运行的程序。
pub struct Built {
    pub builds: Vec<Build>,
    /// 测试程序和它负责的练习（下标）
    pub test_programs: Vec<(PathBuf, Vec<usize>)>,
    /// 测试会运行的全部程序，以及它是否含有学生的代码（学生的练习程序、编进了学生模块的测试程序）。
    /// 评分前后都要核对它们没被换掉
    pub executables: Vec<(PathBuf, bool)>,
}

/// 编译：评分用的测试程序，和学生写的练习。
pub fn build(job: &Job) -> Result<Built, String> {
    let mut builds: Vec<Build> = job
        .exercises
        .iter()
        .map(|(_, untouched)| {
            if *untouched {
                Build::Untouched
            } else {
                Build::Ready
            }
        })
        .collect();
    let mut test_programs = Vec::new();
    let mut executables = Vec::new();

    // 学生的练习（程序，或者编进驱动程序的模块）：一条命令全部编译，每个程序的错误分开记
    let programs: Vec<usize> = (0..job.exercises.len())
        .filter(|i| matches!(builds[*i], Build::Ready))
        .collect();
    if !programs.is_empty() {
        let names: Vec<&'static str> = programs.iter().map(|i| job.exercises[*i].0.name).collect();
        (job.progress)(Progress::Building(&names));
        // 评分用的测试程序里没有学生的代码，编译不过说明练习册本身坏了
        let spec = cargo_json(
            job,
            &["test", "--no-run", "--test", "exercises"],
            BUILD_LIMIT,
        )?
        .ok_or_else(|| format!("编译评分用的测试程序超过了 {} 秒", BUILD_LIMIT.as_secs()))?;
        let test_program = spec
            .executable("exercises")
            .ok_or_else(|| format!("评分用的测试程序编译失败：\n{}", spec.all_errors()))?;
        let mut args = vec!["build", "--features", "exercises", "--keep-going"];
        for i in &programs {
            args.extend(["--bin", job.exercises[*i].0.bin()]);
        }
        let Some(built) = cargo_json(job, &args, STUDENT_BUILD_LIMIT)? else {
            for i in programs {
                builds[i] = Build::Failed(format!(
                    "编译超过了 {} 秒还没有结束，只好停下。是不是写了编译期要算很久的代码（例如很大的 const 循环）？",
                    STUDENT_BUILD_LIMIT.as_secs()
                ));
            }
            return Ok(Built {
                builds,
                test_programs,
                executables,
            });
        };
        let mut tested = Vec::new();
        for i in programs {
            let bin = job.exercises[i].0.bin();
            match built.executable(bin) {
                Some(path) => {
                    executables.push((path, true));
                    tested.push(i);
                }
                None => {
                    let errors = built.errors_of(bin);
                    // 学生代码的错误总指向 labs/ 下的文件；别的错误（例如编译好的依赖坏了）不是学生的
                    if !errors.contains("--> labs/") {
                        return Err(format!(
                            "编译 {bin} 失败，但错误不在练习文件里（评分目录里编译好的东西可能坏了）：\n{errors}"
                        ));
                    }
                    builds[i] = Build::Failed(errors);
                }
            }
        }
        if !tested.is_empty() {
            executables.push((test_program.clone(), false));
            executables.extend(
                lab_programs(job.root, &test_program)
                    .into_iter()
                    .map(|p| (p, false)),
            );
            test_programs.push((test_program, tested));
        }
    }
    Ok(Built {
        builds,
        test_programs,
        executables,
    })
}

/// 评分的测试会运行的实验程序（例如练习 4.3 的测试用真正的 lab-chat-server 当服务端）：
/// 编进评分测试程序的源码（tests/exercises.rs 和它引入的 scenarios、support、framing）里
/// 用 `CARGO_BIN_EXE_lab-…` 提到的那些，在测试程序旁边。
/// 只核对它们：别的实验程序评分时不运行，换掉了也影响不了分数。
fn lab_programs(root: &Path, test_program: &Path) -> Vec<PathBuf> {
    let Some(dir) = test_program.parent().and_then(Path::parent) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut pending: Vec<PathBuf> = ["exercises.rs", "scenarios", "support", "framing"]
        .iter()
        .map(|part| root.join("tests").join(part))
        .collect();
    while let Some(folder) = pending.pop() {
        let paths: Vec<PathBuf> = match std::fs::read_dir(&folder) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(_) => vec![folder.clone()], // 一个文件
        };
        for path in paths {
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                for (at, _) in text.match_indices("CARGO_BIN_EXE_lab-") {
                    let rest = &text[at + "CARGO_BIN_EXE_".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
        .iter()
        .flat_map(|name| [dir.join(name), dir.join(format!("{name}.exe"))])
        .filter(|path| path.is_file())
        .collect()
}

/// 运行测试，整理出每个练习的结果。
pub fn test(job: &Job, built: &Built) -> Vec<Outcome> {
    let started = Instant::now();
    let mut runs: HashMap<usize, TestRun> = HashMap::new();
    for (program, indices) in &built.test_programs {
        let prefixes: Vec<String> = indices
            .iter()
            .map(|i| job.exercises[*i].0.test_prefix())
            .collect();
        let total: usize = indices
            .iter()
            .map(|i| job.exercises[*i].0.tests.len())
            .sum();
        (job.progress)(Progress::Running(total));
        let titles: HashMap<String, &str> = indices
            .iter()
            .flat_map(|i| {
                let ex = job.exercises[*i].0;
                ex.tests
                    .iter()
                    .map(move |(name, title)| (format!("{}{name}", ex.test_prefix()), *title))
            })
            .collect();
        let mut run = run_tests(job, program, &prefixes, false, total, &titles);
        // 第二次机会：许多测试同时运行、机器很忙时，一个依赖时间的测试可能偶尔失败。
        // 没通过的测试再单独跑一次，任何一次通过都算通过；真错了的程序两次都不会通过。
        let failed = failed_tests(&run);
        if run.finished
            && !run.timed_out
            && forged_results(&run.stdout).is_none()
            && !failed.is_empty()
        {
            (job.progress)(Progress::Retrying(failed.len()));
            let retry = run_tests(job, program, &failed, true, failed.len(), &titles);
            run.retry = Some(Box::new(retry));
        }
        for i in indices {
            runs.insert(*i, run.clone());
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    job.exercises
        .iter()
        .enumerate()
        .map(|(i, (ex, _))| {
            let finish = |state, tests, detail| Outcome {
                exercise: ex,
                state,
                tests,
                detail,
                seconds,
            };
            match &built.builds[i] {
                Build::Untouched => finish(
                    State::NotStarted,
                    not_run(ex),
                    format!(
                        "{} 和原始的练习一模一样：把 {} 换成你的代码吧。",
                        ex.stub,
                        ex.todo_marker()
                    ),
                ),
                Build::Failed(errors) => finish(State::CompileError, not_run(ex), errors.clone()),
                Build::Ready => match runs.get(&i) {
                    Some(run) => judge(job.root, ex, run, seconds),
                    None => finish(State::Failed, not_run(ex), "没有运行任何测试".into()),
                },
            }
        })
        .collect()
}

/// 没有运行的测试：全部记为没通过。
pub fn not_run(ex: &'static Exercise) -> Vec<TestResult> {
    ex.tests
        .iter()
        .map(|(name, title)| TestResult {
            name: format!("{}{name}", ex.test_prefix()),
            title: title.to_string(),
            passed: false,
        })
        .collect()
}

/// 测试程序一次运行的输出。
#[derive(Clone, Default)]
struct TestRun {
    stdout: String,
    stderr: String,
    timed_out: bool,
    /// 测试程序自己正常结束了（退出码 0 或 101）：被信号杀掉的运行，它的输出不可信
    finished: bool,
    /// 没能运行测试程序时的原因
    error: Option<String>,
    /// 没通过的测试单独再跑一次的结果
    retry: Option<Box<TestRun>>,
}

/// 一次运行里没通过的测试（按 libtest 的输出）。
fn failed_tests(run: &TestRun) -> Vec<String> {
    run.stdout
        .lines()
        .take_while(|line| *line != "failures:")
        .filter_map(result_line)
        .filter(|(_, passed)| !passed)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// 由一次运行的输出判断一个练习的结果。
fn judge(root: &Path, ex: &'static Exercise, run: &TestRun, seconds: f64) -> Outcome {
    let prefix = ex.test_prefix();
    let results = parse_results(&run.stdout, &prefix);
    let finish = |state, tests, detail| Outcome {
        exercise: ex,
        state,
        tests,
        detail,
        seconds,
    };
    if let Some(error) = &run.error {
        return finish(State::Failed, not_run(ex), error.clone());
    }
    if run.timed_out {
        // 测试程序被停住（例如被测程序给它发了 SIGSTOP）或者真的太慢：它输出的结果一个也不算
        return finish(
            State::TimedOut,
            not_run(ex),
            format!(
                "测试在 {} 秒内没有全部结束，这次的结果一个也不算。",
                TEST_LIMIT.as_secs()
            ),
        );
    }
    if !run.finished {
        // 例如被测程序杀掉了测试程序：它之前输出的结果一个也不算
        return finish(
            State::Failed,
            not_run(ex),
            format!(
                "测试程序没有正常结束，这次的结果一个也不算：\n{}",
                run.stderr.trim()
            ),
        );
    }
    if let Some(forged) = forged_results(&run.stdout) {
        return finish(State::Tampered, not_run(ex), forged);
    }
    let mut results = results;
    if let Some(retry) = &run.retry {
        // 第二次运行也要经得起同样的核对，然后它通过的测试算通过
        if !retry.finished || retry.timed_out {
            // 第二次没能正常跑完：只用第一次的结果
        } else if let Some(forged) = forged_results(&retry.stdout) {
            return finish(State::Tampered, not_run(ex), forged);
        } else {
            for (name, passed) in parse_results(&retry.stdout, &prefix) {
                match results.iter_mut().find(|(n, _)| *n == name) {
                    Some(first) => first.1 |= passed,
                    None => results.push((name, passed)),
                }
            }
        }
    }
    let listed: Vec<String> = ex
        .tests
        .iter()
        .map(|(name, _)| format!("{prefix}{name}"))
        .collect();
    if let Some((name, _)) = results.iter().find(|(name, _)| !listed.contains(name)) {
        // 练习清单和测试程序由同一个提交给出（selftest 核对它们一致），多出来的名字只能是冒充的
        return finish(
            State::Tampered,
            not_run(ex),
            format!("测试程序的输出里出现了练习清单里没有的测试 {name}：测试结果被冒充了"),
        );
    }
    let tests: Vec<TestResult> = ex
        .tests
        .iter()
        .map(|(name, title)| {
            let full = format!("{prefix}{name}");
            let passed = results.iter().any(|(n, ok)| *n == full && *ok);
            TestResult {
                name: full,
                title: title.to_string(),
                passed,
            }
        })
        .collect();
    let missing = tests
        .iter()
        .any(|t| !results.iter().any(|(n, _)| *n == t.name));
    if tests.iter().all(|t| t.passed) {
        return finish(State::Passed, tests, String::new());
    }
    let failure = tests.iter().find(|t| !t.passed).map(|t| t.name.clone());
    let mut detail = failure
        .map(|name| failure_output(&run.stdout, &name))
        .unwrap_or_default();
    if missing && results.is_empty() {
        detail = format!("测试程序没有正常运行：\n{}", run.stderr.trim());
    }
    let stub = std::fs::read_to_string(root.join(ex.stub)).unwrap_or_default();
    let state = if stub.contains(&ex.todo_marker()) {
        State::NotStarted
    } else {
        State::Failed
    };
    finish(state, tests, detail)
}

/// 核对测试程序的输出是不是它自己的：libtest 先说要运行几个测试（`running N tests`），
/// 每个测试恰好报告一次结果，最后一行 `test result:` 里的通过、失败数和这些结果对得上。
/// 被测程序往测试程序的标准输出里写假结果（例如在 Linux 上打开 /proc/父进程/fd/1），只能多写，
/// 删不掉真的那一行，所以数目一定对不上。对不上时返回原因。
fn forged_results(stdout: &str) -> Option<String> {
    let before_failures: Vec<&str> = stdout
        .lines()
        .take_while(|line| *line != "failures:")
        .collect();
    let announced: usize = before_failures
        .iter()
        .filter_map(|line| line.strip_prefix("running "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum();
    let results: Vec<(&str, bool)> = before_failures
        .iter()
        .filter_map(|line| result_line(line))
        .collect();
    let mut names: Vec<&str> = results.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    if results.len() != announced || names.len() != results.len() {
        return Some(format!(
            "测试程序说要运行 {announced} 个测试，输出里却有 {} 条结果（{} 个不同的名字）：测试结果被冒充了",
            results.len(),
            names.len()
        ));
    }
    let passed = results.iter().filter(|(_, ok)| *ok).count();
    let failed = results.len() - passed;
    let Some(summary) = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with("test result: "))
    else {
        return Some("测试程序的输出里没有最后的统计（test result:）".to_string());
    };
    let expected = format!("{passed} passed; {failed} failed;");
    if !summary.contains(&expected) {
        return Some(format!(
            "测试程序最后的统计（{summary}）和逐条的结果（{passed} 个通过、{failed} 个失败）对不上：测试结果被冒充了"
        ));
    }
    None
}

/// 直接运行测试程序（不经过 cargo），只跑这几个练习的测试，全部同时运行。
/// `filters` 是测试名的前缀；`exact` 为真时是完整的测试名。
fn run_tests(
    job: &Job,
    program: &Path,
    filters: &[String],
    exact: bool,
    total: usize,
    titles: &HashMap<String, &str>,
) -> TestRun {
    let mut command = Command::new(program);
    command
        .args(["--include-ignored", "--color", "never", "--test-threads"])
        .arg(total.clamp(1, MAX_THREADS).to_string());
    if exact {
        command.arg("--exact");
    }
    command
        .args(filters)
        .current_dir(job.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // 测试程序和学生的程序都不该知道练习册、评分工具在哪里
    for (key, _) in std::env::vars_os() {
        let text = key.to_string_lossy();
        if text.starts_with("CARGO") || text.starts_with("INSTA") || text.starts_with("WORKBOOK") {
            command.env_remove(&key);
        }
    }
    command
        .env("INSTA_UPDATE", "no") // 快照是规格，评分时绝不改写
        .env("RUST_BACKTRACE", "0")
        .env("WORKBOOK_SCRATCH", job.scratch);
    own_process_group(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return TestRun {
                error: Some(format!("无法运行测试程序 {}：{err}", program.display())),
                ..TestRun::default()
            };
        }
    };
    let (lines, received) = mpsc::channel::<String>();
    let stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut all = String::new();
        let Some(stdout) = stdout else {
            return all;
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        // 一直读到管道关闭：不是 UTF-8 的字节照样读下去（显示成 �），
        // 超过上限的部分读了就扔，免得一个输出几个 GB 的程序撑爆评分工具的内存
        loop {
            line.clear();
            match stdout.by_ref().take(MAX_LINE).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if all.len() < MAX_OUTPUT {
                all.push_str(text);
                all.push('\n');
            }
            let _ = lines.send(text.to_string());
        }
        all
    });
    let stderr = child.stderr.take();
    let errors = thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + TEST_LIMIT;
    let mut timed_out = false;
    let mut in_failures = false;
    loop {
        match received.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                in_failures |= line == "failures:";
                if let Some((name, passed)) = result_line(&line).filter(|_| !in_failures) {
                    let title = titles.get(name).copied().unwrap_or(name);
                    (job.progress)(Progress::TestDone { title, passed });
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().ok();
    kill_leftovers(&child);
    // libtest 全部通过时退出码是 0，有测试失败时是 101；别的情况说明它没能自己跑完
    let finished = !timed_out
        && status
            .and_then(|s| s.code())
            .is_some_and(|c| c == 0 || c == 101);
    TestRun {
        stdout: reader.join().unwrap_or_default(),
        stderr: errors.join().unwrap_or_default(),
        timed_out,
        finished,
        error: None,
        retry: None,
    }
}

/// 在 Unix 上，测试程序自成一个进程组，结束后把组里剩下的进程（学生的程序留下的）一起结束。
/// Windows 没有进程组这一套，所以评分在 Windows 上不进行（见 main.rs 的 `grading_supported`）；
/// 学生在 Windows 上自己检查练习时，只靠测试本身结束它启动的程序。
#[cfg(unix)]
fn own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(not(unix))]
fn own_process_group(_command: &mut Command) {}

/// 直接调用 killpg，而不是运行 `kill -KILL -- -组号`：Linux（procps）和 macOS（BSD）的
/// kill 命令解析参数的方式不同，系统调用在两边都一样。
#[cfg(unix)]
fn kill_leftovers(child: &std::process::Child) {
    let Ok(group) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: killpg 只是发信号，不碰本进程的内存；组已经不存在时它返回错误，没有什么要补救的
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_leftovers(_child: &std::process::Child) {}

/// `test 名字 ... ok` 这样的一行。
fn result_line(line: &str) -> Option<(&str, bool)> {
    let (name, result) = line.strip_prefix("test ")?.split_once(" ... ")?;
    match result.trim() {
        "ok" => Some((name, true)),
        "FAILED" => Some((name, false)),
        _ => None,
    }
}

/// 从 libtest 的输出里读出以 `prefix` 开头的每个测试的结果。
///
/// 只读 `failures:` 之前的部分：之后是失败测试的输出，里面可能有学生的程序打印的任何东西。
fn parse_results(stdout: &str, prefix: &str) -> Vec<(String, bool)> {
    stdout
        .lines()
        .take_while(|line| *line != "failures:")
        .filter_map(result_line)
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, passed)| (name.to_string(), passed))
        .collect()
}

/// libtest 在 `---- 名字 stdout ----` 之后打印失败测试的输出；取出它，
/// 去掉 Rust 的 panic 位置和调用栈提示：学生要看的是测试说了什么。
fn failure_output(stdout: &str, name: &str) -> String {
    let marker = format!("---- {name} stdout ----");
    let Some(start) = stdout.find(&marker) else {
        return format!("测试 {name} 没有通过（没有留下说明）");
    };
    let body = &stdout[start + marker.len()..];
    let end = [body.find("\n---- "), body.find("\nfailures:")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    clean_panic(&body[..end])
}

/// 去掉 `thread '…' panicked at 文件:行:列:`、`note: run with RUST_BACKTRACE…` 和调用栈。
fn clean_panic(text: &str) -> String {
    let text = text.split("\nstack backtrace:").next().unwrap_or(text);
    text.lines()
        .filter(|line| {
            let panic_location = line.starts_with("thread '") && line.contains(" panicked at ");
            let backtrace_hint = line.starts_with("note: run with `RUST_BACKTRACE");
            !panic_location && !backtrace_hint
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_matches('\n')
        .to_string()
}

/// cargo 用 `--message-format=json` 输出的消息。
struct CargoMessages {
    messages: Vec<Value>,
    stderr: String,
}

impl CargoMessages {
    /// 编译成功的可执行文件。
    fn executable(&self, target: &str) -> Option<PathBuf> {
        self.messages.iter().find_map(|m| {
            (m["reason"] == "compiler-artifact" && m["target"]["name"] == target)
                .then(|| m["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
    }

    /// 一个编译目标的错误，rustc 原样的输出（包括行号栏和 ^ 标记）。
    fn errors_of(&self, target: &str) -> String {
        let rendered: Vec<&str> = self
            .messages
            .iter()
            .filter(|m| m["reason"] == "compiler-message" && m["target"]["name"] == target)
            .filter(|m| m["message"]["level"] == "error")
            .filter_map(|m| m["message"]["rendered"].as_str())
            .collect();
        if rendered.is_empty() {
            // 例如链接失败：没有 rustc 的消息，只有 cargo 自己的话
            self.stderr.trim().to_string()
        } else {
            rendered.concat().trim_end().to_string()
        }
    }

    fn all_errors(&self) -> String {
        let rendered: String = self
            .messages
            .iter()
            .filter(|m| m["reason"] == "compiler-message" && m["message"]["level"] == "error")
            .filter_map(|m| m["message"]["rendered"].as_str())
            .collect();
        format!("{rendered}{}", self.stderr.trim())
    }
}

/// 运行一条 cargo 命令（加上 `--message-format=json`），收集它的消息。
/// 超过 `limit` 还没结束就停下它，返回 Ok(None)。
fn cargo_json(job: &Job, args: &[&str], limit: Duration) -> Result<Option<CargoMessages>, String> {
    let mut all: Vec<&str> = args.to_vec();
    // --locked：Cargo.lock 是规格的一部分，cargo 不许改写它（改写了就会被当成篡改）
    all.extend(["--message-format=json", "--quiet", "--locked"]);
    let Some(output) = cargo(job, &all, limit)? else {
        return Ok(None);
    };
    let messages = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    Ok(Some(CargoMessages {
        messages,
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }))
}

/// cargo 的输出。
struct CargoOutput {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// 运行一条 cargo 命令；启动不了变成一句说明，超过 `limit` 就停下它、返回 Ok(None)。
fn cargo(job: &Job, args: &[&str], limit: Duration) -> Result<Option<CargoOutput>, String> {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&program);
    // 超时要停下的不只是 cargo，还有它启动的 rustc：让它们自成一个进程组
    own_process_group(&mut command);
    if job.lean {
        command.env("CARGO_PROFILE_DEV_DEBUG", "0");
    }
    let mut child = command
        .args(args)
        .current_dir(job.root)
        .env("CARGO_TARGET_DIR", job.target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            format!(
                "无法启动 cargo（{program}）：{err}。请确认装好了 Rust 工具链（https://rustup.rs），\
                 并且 cargo 在 PATH 里：在终端里运行 cargo --version 试试"
            )
        })?;
    // 两个管道各用一个线程读完，免得输出太多时 cargo 卡在写管道上
    let mut stdout = child.stdout.take().ok_or("cargo 没有标准输出")?;
    let mut stderr = child.stderr.take().ok_or("cargo 没有标准错误")?;
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            kill_leftovers(&child);
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(CargoOutput {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 学生的程序留在后台的进程（这里是 sh 放到后台的 sleep）在评分结束时被一起结束，
    /// 哪怕启动它的程序早已退出。
    /// 用 `ps` 看它还在不在：它的父进程已经退出，没人回收时会短暂地成为僵尸（状态 Z），也算结束了。
    #[cfg(unix)]
    #[test]
    fn leftover_background_processes_are_killed() {
        use std::io::BufRead;
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 60 & echo $!"])
            .stdout(Stdio::piped());
        own_process_group(&mut command);
        let mut child = command.spawn().expect("运行 sh");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("标准输出");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("读 sleep 的进程号");
        let sleeper = line.trim().to_string();
        let alive = |pid: &str| {
            let out = Command::new("ps")
                .args(["-o", "stat=", "-p", pid])
                .output()
                .expect("运行 ps");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            !state.is_empty() && !state.starts_with('Z')
        };
        // sh 已经结束了，和测试程序跑完时一样；它放到后台的 sleep 还在同一个进程组里
        let _ = child.wait();
        assert!(alive(&sleeper), "后台的 sleep 应当还在运行");

        kill_leftovers(&child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(&sleeper) {
            assert!(
                Instant::now() < deadline,
                "kill_leftovers 之后 10 秒，后台的 sleep（{sleeper}）还在运行"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn panic_location_and_backtrace_hint_are_removed() {
        let raw = "\nthread 'ex_2_1_server_transcript' (123) panicked at tests/support/mod.rs:95:17:\n\
                   lab-tcp-server 输出的这一行不对。\n期望：a\n实际：b\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            clean_panic(raw),
            "lab-tcp-server 输出的这一行不对。\n期望：a\n实际：b"
        );
    }

    #[test]
    fn result_lines_are_read() {
        assert_eq!(
            result_line("test ex_2_1_a ... ok"),
            Some(("ex_2_1_a", true))
        );
        assert_eq!(
            result_line("test ex_2_1_b ... FAILED"),
            Some(("ex_2_1_b", false))
        );
        assert_eq!(result_line("test ex_2_1_c ... ignored"), None);
        assert_eq!(result_line("running 3 tests"), None);
    }
}
