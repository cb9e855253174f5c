//! 编译一个练习、运行它的测试，把结果整理成一个 [`Outcome`]。

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::exercises::Exercise;

/// 编译加测试一个练习最多用多久（第一次要编译测试程序，所以给得宽一些）。
const LIMIT: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// 全部测试通过
    Passed,
    /// 练习文件里还留着 todo!()
    NotStarted,
    /// 编译不过
    CompileError,
    /// 有测试没通过
    Failed,
    /// 超过了时限
    TimedOut,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Passed => "通过",
            State::NotStarted => "尚未完成",
            State::CompileError => "编译失败",
            State::Failed => "未通过",
            State::TimedOut => "超时",
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
        }
    }
}

/// 一个测试的结果。
pub struct TestResult {
    pub name: String,
    pub passed: bool,
}

/// 一个练习的检查结果。
pub struct Outcome {
    pub exercise: &'static Exercise,
    pub state: State,
    pub tests: Vec<TestResult>,
    /// 给学生看的说明：第一个失败的测试输出了什么、编译错误是什么……
    pub detail: String,
    pub seconds: f64,
}

impl Outcome {
    pub fn passed_tests(&self) -> usize {
        self.tests.iter().filter(|t| t.passed).count()
    }

    pub fn points(&self) -> u32 {
        if self.state == State::Passed {
            self.exercise.points
        } else {
            0
        }
    }
}

/// 在 `root`（仓库根目录）里检查一个练习。`target_dir` 为 None 时用仓库自己的 target/。
pub fn check(ex: &'static Exercise, root: &Path, target_dir: Option<&Path>) -> Outcome {
    let started = Instant::now();
    let finish = |state, tests, detail| Outcome {
        exercise: ex,
        state,
        tests,
        detail,
        seconds: started.elapsed().as_secs_f64(),
    };

    // 1. 单独编译这个练习：一个练习编译不过，不影响其他练习
    //    （模块练习编进它的驱动程序：学生的代码总在单独的进程里运行，测试程序里没有它）
    let prefix = ex.test_prefix();
    let build_args = [
        "build",
        "--quiet",
        "--features",
        "exercises",
        "--bin",
        ex.bin(),
    ];
    let Some(build) = cargo(root, target_dir, &build_args) else {
        return finish(State::TimedOut, Vec::new(), format!("编译超过了 {LIMIT:?}"));
    };
    if !build.status.success() {
        let errors = compiler_errors(&String::from_utf8_lossy(&build.stderr));
        return finish(State::CompileError, Vec::new(), errors);
    }

    // 2. 运行这个练习的测试（和实验用的是同一批场景、同一份快照）
    let test_args = [
        "test",
        "--test",
        "exercises",
        "--",
        "--include-ignored",
        &prefix,
    ];
    let Some(run) = cargo(root, target_dir, &test_args) else {
        return finish(State::TimedOut, Vec::new(), format!("测试超过了 {LIMIT:?}"));
    };
    let stdout = String::from_utf8_lossy(&run.stdout);
    let tests = parse_results(&stdout, &prefix);
    if tests.is_empty() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let detail = format!(
            "没有运行任何测试（测试程序编译失败？）：\n{}",
            compiler_errors(&stderr)
        );
        return finish(State::Failed, tests, detail);
    }
    if tests.iter().all(|t| t.passed) {
        return finish(State::Passed, tests, String::new());
    }

    let stub = std::fs::read_to_string(root.join(ex.stub)).unwrap_or_default();
    if stub.contains(&ex.todo_marker()) {
        let detail = format!(
            "{} 里还留着 {}，把它换成你的代码吧。",
            ex.stub,
            ex.todo_marker()
        );
        return finish(State::NotStarted, tests, detail);
    }
    let first_failure = tests.iter().find(|t| !t.passed).map(|t| t.name.clone());
    let detail = first_failure
        .map(|name| failure_output(&stdout, &name))
        .unwrap_or_default();
    finish(State::Failed, tests, detail)
}

/// 运行一条 cargo 命令，超过 [`LIMIT`] 就结束它并返回 None。
fn cargo(root: &Path, target_dir: Option<&Path>, args: &[&str]) -> Option<Output> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let mut child = command
        .args(args)
        .current_dir(root)
        .env("CARGO_TERM_COLOR", "never")
        .env("INSTA_UPDATE", "no") // 快照是规格，评分时绝不改写
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    // 两个管道各用一个线程读完，免得输出太多时子进程卡在写管道上
    let mut stdout = child.stdout.take()?;
    let mut stderr = child.stderr.take()?;
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
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    Some(Output {
        status,
        stdout: out.join().ok()?,
        stderr: err.join().ok()?,
    })
}

/// 从 libtest 的输出里读出每个测试的结果（`test 名字 ... ok` 这样的行）。
///
/// 只读 `failures:` 之前的部分：之后是失败测试的输出，里面可能引用了学生的程序打印的东西。
/// 同一个名字出现两次时，不是 ok 的那次算数。
fn parse_results(stdout: &str, prefix: &str) -> Vec<TestResult> {
    let mut tests: Vec<TestResult> = Vec::new();
    let lines = stdout.lines().take_while(|line| *line != "failures:");
    for (name, result) in lines
        .filter_map(|line| line.strip_prefix("test "))
        .filter_map(|rest| rest.split_once(" ... "))
        .filter(|(name, _)| name.starts_with(prefix))
    {
        let passed = result.trim() == "ok";
        match tests.iter_mut().find(|t| t.name == name) {
            Some(seen) => seen.passed &= passed,
            None => tests.push(TestResult {
                name: name.to_string(),
                passed,
            }),
        }
    }
    tests
}

/// libtest 在 `---- 名字 stdout ----` 之后打印失败测试的输出；取出其中一个。
fn failure_output(stdout: &str, name: &str) -> String {
    let marker = format!("---- {name} stdout ----");
    let Some(start) = stdout.find(&marker) else {
        return format!("测试 {name} 没有通过");
    };
    let body = &stdout[start + marker.len()..];
    let end = [body.find("\n---- "), body.find("\nfailures:")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    let body = body[..end].trim();
    // 调用栈对学生没有帮助
    let body = body.split("\nstack backtrace:").next().unwrap_or(body);
    body.split("\nnote: run with `RUST_BACKTRACE")
        .next()
        .unwrap_or(body)
        .to_string()
}

/// 编译输出里真正的错误部分（去掉 “Compiling …” 之类的进度行），最多 60 行。
fn compiler_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("Compiling") && !l.trim_start().starts_with("Finished")
        })
        .take(60)
        .collect();
    lines.join("\n")
}
