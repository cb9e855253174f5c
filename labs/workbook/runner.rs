//! 编译练习、运行它们的测试，把结果整理成 [`Outcome`]。
//!
//! 一次处理一个学生的几个练习：用一条 cargo 命令编译学生的全部练习程序
//! （`--keep-going`：一个编译不过，别的照样编译），再运行测试程序一次，让这些练习的测试同时跑：
//! 一个卡住的程序只花一次等待的时间。
//!
//! 两种地方（[`Place`]）：学生自己检查（`check`、`watch`）时就在练习册里编译、直接运行，
//! 测试程序和练习一起编译；评分时学生的代码只在沙箱里编译和运行（sandbox.rs），
//! 测试程序来自事先编译好的评分工具（harness.rs）。

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exercises::Exercise;
use crate::harness::Harness;
use crate::limits::Group;
use crate::sandbox::{BuildRoom, Sandbox, TARGET, TestRoom};

/// 编译评分用的测试程序最多用多久（第一次要编译全部依赖，所以给得宽一些）。
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// 编译学生的练习最多用多久：依赖已经编译好了，正常几秒钟；超过它算学生的编译失败
/// （例如一个编译期永远算不完的常量）。
pub const STUDENT_BUILD_LIMIT: Duration = Duration::from_secs(300);
/// 一次运行测试最多用多久。每个测试自己另有 60 秒的时限，这里只是最后一道保险。
/// 没通过的测试还会单独再跑一次，所以一个练习的评分最多用 STUDENT_BUILD_LIMIT + 2 × TEST_LIMIT
/// （GitHub Classroom 的每一步按这个给时限，见 classroom.rs）。
pub const TEST_LIMIT: Duration = Duration::from_secs(240);
/// 程序结束之后，最多再等多久它的输出管道关上：学生留在后台的进程拿着管道不放时，
/// 评分不跟着等下去。
const PIPE_GRACE: Duration = Duration::from_secs(5);
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

    /// 得分：通过的测试各得自己的那一份（见 [`shares`]）；篡改一律 0 分。
    pub fn points(&self) -> f64 {
        if self.state == State::Tampered {
            return 0.0;
        }
        let sum: f64 = shares(self.exercise.points, self.tests.len())
            .iter()
            .zip(&self.tests)
            .filter(|(_, t)| t.passed)
            .map(|(share, _)| share)
            .sum();
        // 空的和是 -0.0（浮点数加法的单位元）：加上 0.0 变成 0，免得显示成“-0”
        sum + 0.0
    }

    /// 每个测试值几分（和 [`Outcome::tests`] 一一对应）。
    pub fn shares(&self) -> Vec<f64> {
        shares(self.exercise.points, self.tests.len())
    }

    /// 第一个没通过的测试（按练习清单里的顺序，最能说明问题的在前）。
    pub fn first_failure(&self) -> Option<&TestResult> {
        self.tests.iter().find(|t| !t.passed)
    }
}

/// 一个练习的 `points` 分怎样分给它的 `tests` 个测试：以 0.25 分为单位，尽量平均，
/// 多出来的零头给排在前面的测试（10 分 7 个测试：前 5 个各 1.5，后 2 个各 1.25）。
/// 0.25 的倍数在二进制里是精确的，所以无论怎样加，总分都是精确的：
/// 全部通过正好是满分，GitHub Classroom 的汇总也不会显示 28.33333333333334 这样的数。
pub fn shares(points: u32, tests: usize) -> Vec<f64> {
    if tests == 0 {
        return Vec::new();
    }
    let quarters = points as usize * 4;
    let (each, extra) = (quarters / tests, quarters % tests);
    (0..tests)
        .map(|i| (each + usize::from(i < extra)) as f64 / 4.0)
        .collect()
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

/// 一次检查：编译、测试 `exercises`。
pub struct Job<'a> {
    /// 要检查的练习，以及它是否和原始的练习一模一样（一样就不必编译和测试）
    pub exercises: Vec<(&'static Exercise, bool)>,
    pub progress: &'a (dyn Fn(Progress) + Sync),
    pub place: Place<'a>,
}

/// 在哪里编译、运行。
pub enum Place<'a> {
    /// 在一份练习册 `root` 里就地编译、直接运行：学生检查自己的练习（`check`、`watch`），
    /// 以及教师明确放弃沙箱时的评分（`--no-sandbox`）
    Local {
        root: &'a Path,
        /// 编译产物放在哪里
        target_dir: &'a Path,
        /// 学生的程序在哪个目录里运行（练习册以外）
        scratch: &'a Path,
        /// 编译时不带调试信息：程序小得多，链接和核对 SHA-256 都快得多
        /// （学生自己的 target/ 不用它，免得和平时的 cargo build 来回重新编译）
        lean: bool,
    },
    /// 评分：学生的代码只在沙箱里编译和运行
    Sandboxed {
        sandbox: &'a Sandbox,
        harness: &'a Harness,
        /// 学生交的练习文件：盖在规格上（沙箱外的文件，规格里的相对路径）
        overlays: &'a [(PathBuf, String)],
        /// 练习文件的内容（判断“尚未完成”用）
        files: &'a BTreeMap<String, Vec<u8>>,
        /// 这位学生的编译输出目录
        target: &'a Path,
    },
}

impl Job<'_> {
    /// 练习文件此刻的内容。
    fn stub_text(&self, ex: &Exercise) -> String {
        match &self.place {
            Place::Local { root, .. } => {
                std::fs::read_to_string(root.join(ex.stub)).unwrap_or_default()
            }
            Place::Sandboxed { files, .. } => files
                .get(ex.stub)
                .map(|b| String::from_utf8_lossy(b).to_string())
                .unwrap_or_default(),
        }
    }
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

/// 编译：学生写的练习；在练习册里就地检查时，还有测试程序。
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
    let mut built = Built {
        builds: Vec::new(),
        test_programs: Vec::new(),
        executables: Vec::new(),
    };
    // 学生的练习（程序，或者编进驱动程序的模块）：一条命令全部编译，每个程序的错误分开记
    let programs: Vec<usize> = (0..job.exercises.len())
        .filter(|i| matches!(builds[*i], Build::Ready))
        .collect();
    if programs.is_empty() {
        built.builds = builds;
        return Ok(built);
    }
    let names: Vec<&'static str> = programs.iter().map(|i| job.exercises[*i].0.name).collect();
    (job.progress)(Progress::Building(&names));
    let test_program = match &job.place {
        Place::Local { .. } => {
            // 测试程序里没有学生的代码，编译不过说明练习册本身坏了
            let spec = cargo_json(
                job,
                &["test", "--no-run", "--test", "exercises"],
                BUILD_LIMIT,
            )?
            .ok_or_else(|| format!("编译评分用的测试程序超过了 {} 秒", BUILD_LIMIT.as_secs()))?;
            spec.executable("exercises")
                .ok_or_else(|| format!("评分用的测试程序编译失败：\n{}", spec.all_errors()))?
        }
        Place::Sandboxed { harness, .. } => harness.test_program.clone(),
    };
    let mut args = vec!["build", "--features", "exercises", "--keep-going"];
    for i in &programs {
        args.extend(["--bin", job.exercises[*i].0.bin()]);
    }
    let Some(compiled) = cargo_json(job, &args, STUDENT_BUILD_LIMIT)? else {
        for i in programs {
            builds[i] = Build::Failed(format!(
                "编译超过了 {} 秒还没有结束，只好停下。是不是写了编译期要算很久的代码（例如很大的 const 循环）？",
                STUDENT_BUILD_LIMIT.as_secs()
            ));
        }
        built.builds = builds;
        return Ok(built);
    };
    let mut tested = Vec::new();
    for i in programs {
        let bin = job.exercises[i].0.bin();
        match compiled.executable(bin) {
            Some(path) => {
                built.executables.push((job.outside(&path), true));
                tested.push(i);
            }
            None => {
                let mut errors = compiled.errors_of(bin);
                // 学生代码的错误通常指向 labs/ 下的文件。不指向时（例如链接失败、编译器被上限结束），
                // 可能是学生的代码造成的，也可能是评分的环境坏了：换回原始的练习再编译一次看看
                if !errors.contains("--> labs/") {
                    if !original_builds(job, job.exercises[i].0)? {
                        return Err(format!(
                            "编译 {bin} 失败，但错误不在练习文件里（评分目录里编译好的东西可能坏了）：\n{errors}"
                        ));
                    }
                    errors.push_str(
                        "\n\n（错误没有指向练习文件的某一行，但换回原始的练习就编译得过：是这份练习文件造成的，\
                         例如链接了不存在的库，或者编译期用掉了太多内存）",
                    );
                }
                builds[i] = Build::Failed(errors);
            }
        }
    }
    if !tested.is_empty() {
        if let Place::Local { root, .. } = &job.place {
            built.executables.push((test_program.clone(), false));
            built.executables.extend(
                lab_programs(root, &test_program)
                    .into_iter()
                    .map(|p| (p, false)),
            );
        }
        built.test_programs.push((test_program, tested));
    }
    built.builds = builds;
    Ok(built)
}

/// 把练习 `ex` 换回原始的练习（学生交的其余文件不变），它的程序编译得过吗？
/// 只在沙箱里这样核对；在练习册里就地检查时，编译不过总算作环境的问题（返回 false）。
fn original_builds(job: &Job, ex: &Exercise) -> Result<bool, String> {
    let Place::Sandboxed {
        sandbox,
        harness,
        overlays,
        files,
        target,
    } = &job.place
    else {
        return Ok(false);
    };
    let others: Vec<(PathBuf, String)> = overlays
        .iter()
        .filter(|(_, relative)| relative != ex.stub)
        .cloned()
        .collect();
    let control = Job {
        exercises: Vec::new(),
        progress: job.progress,
        place: Place::Sandboxed {
            sandbox,
            harness,
            overlays: &others,
            files,
            target,
        },
    };
    let args = ["build", "--features", "exercises", "--bin", ex.bin()];
    Ok(cargo_json(&control, &args, STUDENT_BUILD_LIMIT)?
        .is_some_and(|built| built.executable(ex.bin()).is_some()))
}

impl Job<'_> {
    /// cargo 报告的程序路径在沙箱外的位置（沙箱里的 /target/… 是这位学生的编译输出目录）。
    fn outside(&self, path: &Path) -> PathBuf {
        match &self.place {
            Place::Local { .. } => path.to_path_buf(),
            Place::Sandboxed { target, .. } => match path.strip_prefix(TARGET) {
                Ok(rest) => target.join(rest),
                Err(_) => path.to_path_buf(),
            },
        }
    }
}

/// 测试程序（tests/exercises.rs 和它引入的 scenarios、support、framing）里
/// 用 `CARGO_BIN_EXE_lab-…` 提到的实验程序的名字：评分的测试会运行它们
/// （例如练习 4.3 的测试用真正的 lab-chat-server 当服务端）。
pub fn lab_names(root: &Path) -> Vec<String> {
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
}

/// 评分的测试会运行的实验程序，在测试程序旁边（只核对它们：别的实验程序评分时不运行）。
fn lab_programs(root: &Path, test_program: &Path) -> Vec<PathBuf> {
    let Some(dir) = test_program.parent().and_then(Path::parent) else {
        return Vec::new();
    };
    lab_names(root)
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
        let mut run = run_tests(job, built, program, &prefixes, false, total, &titles);
        // 第二次机会：许多测试同时运行、机器很忙时，一个依赖时间的测试可能偶尔失败。
        // 没通过的测试再单独跑一次，任何一次通过都算通过；真错了的程序两次都不会通过。
        let failed = failed_tests(&run);
        if run.finished
            && !run.timed_out
            && forged_results(&run.stdout).is_none()
            && !failed.is_empty()
        {
            (job.progress)(Progress::Retrying(failed.len()));
            let retry = run_tests(job, built, program, &failed, true, failed.len(), &titles);
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
                    Some(run) => judge(&job.stub_text(ex), ex, run, seconds),
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
fn judge(stub: &str, ex: &'static Exercise, run: &TestRun, seconds: f64) -> Outcome {
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

/// 运行测试程序（不经过 cargo），只跑这几个练习的测试，全部同时运行。
/// `filters` 是测试名的前缀；`exact` 为真时是完整的测试名。
fn run_tests(
    job: &Job,
    built: &Built,
    program: &Path,
    filters: &[String],
    exact: bool,
    total: usize,
    titles: &HashMap<String, &str>,
) -> TestRun {
    let mut args: Vec<String> = ["--include-ignored", "--color", "never", "--test-threads"]
        .map(String::from)
        .into();
    args.push(total.clamp(1, MAX_THREADS).to_string());
    if exact {
        args.push("--exact".into());
    }
    args.extend(filters.iter().cloned());
    let (mut command, group) = match test_command(job, built, program, &args) {
        Ok(prepared) => prepared,
        Err(error) => {
            return TestRun {
                error: Some(error),
                ..TestRun::default()
            };
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    let stdout = Collector::lines(child.stdout.take(), lines);
    let stderr = Collector::bytes(child.stderr.take());
    let deadline = Instant::now() + TEST_LIMIT;
    let mut timed_out = false;
    let mut in_failures = false;
    let mut exited_at: Option<Instant> = None;
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
        // 测试程序结束之后，管道最多再等 PIPE_GRACE：有人拿着它不放，评分不跟着等
        if exited_at.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
            exited_at = Some(Instant::now());
        }
        if exited_at.is_some_and(|at| at.elapsed() > PIPE_GRACE) {
            break;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().ok();
    stop_everything(&child, group.as_ref());
    let (stdout, stdout_closed) = stdout.finish();
    let (stderr, stderr_closed) = stderr.finish();
    let stderr = String::from_utf8_lossy(&stderr).to_string();
    // libtest 全部通过时退出码是 0，有测试失败时是 101；别的情况说明它没能自己跑完。
    // 输出的管道在它结束后还被别人拿着：这次的输出不可信
    let finished = !timed_out
        && stdout_closed
        && status
            .and_then(|s| s.code())
            .is_some_and(|c| c == 0 || c == 101);
    let stderr = if stdout_closed && stderr_closed {
        stderr
    } else {
        format!(
            "{stderr}\n测试程序结束 {} 秒之后，它的输出管道还被别的进程拿着（学生的程序留在后台？），这次的结果不算",
            PIPE_GRACE.as_secs()
        )
    };
    TestRun {
        stdout: String::from_utf8_lossy(&stdout).to_string(),
        stderr,
        timed_out,
        finished,
        error: None,
        retry: None,
    }
}

/// 运行测试程序的命令：在练习册里就地运行，或者在测试的沙箱里运行。
fn test_command(
    job: &Job,
    built: &Built,
    program: &Path,
    args: &[String],
) -> Result<(Command, Option<Group>), String> {
    match &job.place {
        Place::Local { root, scratch, .. } => {
            let mut command = Command::new(program);
            command.args(args).current_dir(root);
            // 测试程序和学生的程序都不该知道练习册、评分工具在哪里
            for (key, _) in std::env::vars_os() {
                let text = key.to_string_lossy();
                if text.starts_with("CARGO")
                    || text.starts_with("INSTA")
                    || text.starts_with("WORKBOOK")
                {
                    command.env_remove(&key);
                }
            }
            command
                .env("INSTA_UPDATE", "no") // 快照是规格，评分时绝不改写
                .env("RUST_BACKTRACE", "0")
                .env("WORKBOOK_SCRATCH", scratch);
            own_process_group(&mut command);
            Ok((command, None))
        }
        Place::Sandboxed {
            sandbox, harness, ..
        } => {
            let students: Vec<(PathBuf, String)> = built
                .executables
                .iter()
                .filter(|(_, student)| *student)
                .filter_map(|(path, _)| {
                    let name = path.file_name()?.to_string_lossy().to_string();
                    Some((path.clone(), name))
                })
                .collect();
            let room = TestRoom {
                src: &harness.src(),
                test_program: program,
                labs: &harness.labs,
                students: &students,
            };
            let prepared = sandbox.tests(&room, args)?;
            Ok((prepared.command, Some(prepared.group)))
        }
    }
}

/// 一次运行结束（或者超时）之后：结束它留下的每一个进程。
fn stop_everything(child: &Child, group: Option<&Group>) {
    match group {
        // 沙箱：bubblewrap 一结束，它的 PID 命名空间里的进程都被内核结束；cgroup 再查一遍
        Some(group) => group.kill_all(),
        // 就地运行：测试程序的进程组
        None => kill_leftovers(child),
    }
}

/// 在后台线程里读一个管道，收下的内容放在共享的缓冲区里（最多 MAX_OUTPUT 字节，多的读了就扔）。
/// [`Collector::finish`] 最多等 PIPE_GRACE：管道被别人拿着不放时，拿到已经读到的部分就走。
struct Collector {
    buffer: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Collector {
    /// 一行一行地读，每一行另外发给 `lines`（显示进度用）；不是 UTF-8 的字节照样读下去（显示成 �）。
    fn lines(pipe: Option<impl Read + Send + 'static>, lines: mpsc::Sender<String>) -> Collector {
        Collector::start(pipe, move |reader, buffer| {
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                if let Ok(mut all) = buffer.lock()
                    && all.len() < MAX_OUTPUT
                {
                    all.extend(text.as_bytes());
                    all.push(b'\n');
                }
                let _ = lines.send(text);
            }
        })
    }

    fn bytes(pipe: Option<impl Read + Send + 'static>) -> Collector {
        Collector::start(pipe, |mut reader, buffer| {
            let mut chunk = [0u8; 8192];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut all) = buffer.lock()
                            && all.len() < MAX_OUTPUT
                        {
                            all.extend(&chunk[..n]);
                        }
                    }
                }
            }
        })
    }

    fn start<R: Read + Send + 'static>(
        pipe: Option<R>,
        read: impl FnOnce(R, &Mutex<Vec<u8>>) + Send + 'static,
    ) -> Collector {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let (finished, done) = mpsc::channel();
        let shared = Arc::clone(&buffer);
        thread::spawn(move || {
            if let Some(pipe) = pipe {
                read(pipe, &shared);
            }
            let _ = finished.send(());
        });
        Collector { buffer, done }
    }

    /// 读到的内容，以及管道是不是已经关上（读完了）。
    fn finish(self) -> (Vec<u8>, bool) {
        let closed = self.done.recv_timeout(PIPE_GRACE).is_ok();
        let bytes = self.buffer.lock().map(|b| b.clone()).unwrap_or_default();
        (bytes, closed)
    }
}

/// 在 Unix 上，测试程序自成一个进程组，结束后把组里剩下的进程（学生的程序留下的）一起结束。
/// Windows 没有进程组这一套，所以评分在 Windows 上不进行（见 main.rs 的 `grading_mode`）；
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
pub struct CargoMessages {
    messages: Vec<Value>,
    stderr: String,
    /// cargo 以退出码 0 结束
    pub success: bool,
}

impl CargoMessages {
    /// 编译成功的可执行文件。
    pub fn executable(&self, target: &str) -> Option<PathBuf> {
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

    pub fn all_errors(&self) -> String {
        let rendered: String = self
            .messages
            .iter()
            .filter(|m| m["reason"] == "compiler-message" && m["message"]["level"] == "error")
            .filter_map(|m| m["message"]["rendered"].as_str())
            .collect();
        format!("{rendered}{}", self.stderr.trim())
    }
}

/// 运行一条 cargo 命令（加上 `--message-format=json`），收集它的消息：
/// 在练习册里就地运行，或者在编译的沙箱里运行。超过 `limit` 还没结束就停下它，返回 Ok(None)。
fn cargo_json(job: &Job, args: &[&str], limit: Duration) -> Result<Option<CargoMessages>, String> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--message-format=json", "--quiet"]);
    match &job.place {
        Place::Local {
            root,
            target_dir,
            lean,
            ..
        } => {
            // --locked：Cargo.lock 是规格的一部分，cargo 不许改写它（改写了就会被当成篡改）
            all.push("--locked");
            let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut command = Command::new(&program);
            // 超时要停下的不只是 cargo，还有它启动的 rustc：让它们自成一个进程组
            own_process_group(&mut command);
            if *lean {
                command.env("CARGO_PROFILE_DEV_DEBUG", "0");
            }
            command
                .args(&all)
                .current_dir(root)
                .env("CARGO_TARGET_DIR", target_dir)
                .env("CARGO_TERM_COLOR", "never");
            run_cargo(command, None, limit).map_err(|err| {
                format!(
                    "无法启动 cargo（{program}）：{err}。请确认装好了 Rust 工具链（https://rustup.rs），\
                     并且 cargo 在 PATH 里：在终端里运行 cargo --version 试试"
                )
            })
        }
        Place::Sandboxed {
            sandbox,
            harness,
            overlays,
            target,
            ..
        } => {
            let room = BuildRoom {
                toolchain: &harness.toolchain,
                vendor: &harness.vendor(),
                src: &harness.src(),
                overlays,
                target,
            };
            let prepared = sandbox.cargo(&room, &all)?;
            run_cargo(prepared.command, Some(&prepared.group), limit)
        }
    }
}

/// 运行一条准备好的 cargo 命令，收集它的 JSON 消息；启动不了返回错误，
/// 超过 `limit` 就停下它（连同它启动的一切）、返回 Ok(None)。
pub fn run_cargo(
    mut command: Command,
    group: Option<&Group>,
    limit: Duration,
) -> Result<Option<CargoMessages>, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| err.to_string())?;
    // 两个管道各用一个线程读完，免得输出太多时 cargo 卡在写管道上
    let stdout = Collector::bytes(child.stdout.take());
    let stderr = Collector::bytes(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    stop_everything(&child, group);
    let (stdout, _) = stdout.finish();
    let (stderr, _) = stderr.finish();
    let Some(status) = status else {
        return Ok(None);
    };
    let messages = String::from_utf8_lossy(&stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    Ok(Some(CargoMessages {
        messages,
        stderr: String::from_utf8_lossy(&stderr).to_string(),
        success: status.success(),
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
    fn shares_are_quarters_that_add_up_to_exactly_the_points() {
        assert_eq!(shares(10, 7), [1.5, 1.5, 1.5, 1.5, 1.5, 1.25, 1.25]);
        assert_eq!(shares(10, 4), [2.5; 4]);
        assert_eq!(shares(10, 0), Vec::<f64>::new());
        for points in [1, 10, 20, 110] {
            for tests in 1..=50 {
                let all = shares(points, tests);
                assert_eq!(all.len(), tests);
                assert_eq!(
                    all.iter().sum::<f64>(),
                    f64::from(points),
                    "{points} 分 {tests} 个测试"
                );
                // 任何一部分的和也是 0.25 的倍数：没有 0.1 这样在二进制里写不准的数
                let mut partial = 0.0;
                for share in all {
                    partial += share;
                    assert_eq!((partial * 4.0_f64).fract(), 0.0);
                }
            }
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
