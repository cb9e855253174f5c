//! 评分器经得起作弊吗？这里的每个测试都扮演一个想多拿分的学生（或者一个粗心的教师），
//! 证明评分器不上当：
//!
//! - 教师自己做过练习，再评一份空作业：不能拿教师的文件给学生算分；
//! - 学生在自己的仓库里改测试、改快照、重新生成清单：评分用的规格不受影响；
//! - 学生的程序在评分时换掉测试程序、改成绩表、偷拿和陷害同学、让下一个学生被假的测试程序评分、
//!   把教师的文件带进反馈、拿着管道卡住全班、耗尽资源：在沙箱里统统落空，它和后面的学生都得到老实的分数；
//!   不用沙箱（--no-sandbox）时，改写快照、换掉测试程序、冒充测试结果记为篡改，0 分；
//! - 练习文件是指向参考答案的符号链接：记为篡改；
//! - 建不了沙箱：说清楚缺什么、怎么办，不评分；
//! - GitHub Classroom 的工作流：一步超时、编译错误很长，每个练习照样带着结果到达汇总报告；
//! - cargo 启动不了：说清楚是 cargo 启动不了，而不是“编译超时”。
//!
//! 需要编译、运行学生程序的测试比较慢（第一次要编译评分工具，约一分钟），
//! 默认不运行：`cargo test --test grading -- --ignored`（CI 以 root 运行它们）。
//!
//! 评分要在 Linux 的沙箱里进行（labs/workbook/sandbox.rs）；`--no-sandbox` 的评分在 Unix（Linux、macOS）上都能进行，
//! 所以只用 `--no-sandbox` 的测试（以及用 sh 脚本扮演 cargo 的测试）标着 `#[cfg(unix)]`，要沙箱的标着
//! `#[cfg(target_os = "linux")]`；Windows 上评分命令拒绝运行，由 tests/grading_windows.rs 检查。
//! `workbook check` 在每种系统上都能用，它的测试不标。
// 在 macOS 和 Windows 上，只给 Linux（沙箱）测试用的辅助函数用不到
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// 这份练习册（测试从它复制出“教师的练习册”）。
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// 一个临时目录，测试结束时删除。
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "socket-workbook-grading-test-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("创建临时目录");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        make_writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn make_writable(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            make_writable(&path);
        } else if let Ok(meta) = fs::symlink_metadata(&path)
            && meta.file_type().is_file()
        {
            let mut permissions = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)] // 测试结束时要删掉它们
            permissions.set_readonly(false);
            let _ = fs::set_permissions(&path, permissions);
        }
    }
}

/// 教师的练习册：这份仓库的一个克隆（只有已提交的内容）。
fn instructor_clone(scratch: &Scratch) -> PathBuf {
    let clone = scratch.0.join("instructor");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo())
        .arg(&clone)
        .status()
        .expect("运行 git clone");
    assert!(status.success(), "git clone 失败");
    clone
}

/// 评分用的工作目录：所有慢测试共用一个，编译好的依赖接着用。在系统临时目录里，不在练习册里面。
fn shared_work_dir() -> PathBuf {
    std::env::temp_dir().join("socket-workbook-grading-tests")
}

/// 慢测试共用一个评分目录，所以一个接一个地运行。
static SLOW: Mutex<()> = Mutex::new(());

fn workbook(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_workbook"));
    command.arg("--root").arg(root);
    command
}

/// 运行一条命令，返回（退出码，标准输出，标准错误）。
fn run(mut command: Command) -> (Option<i32>, String, String) {
    let output = command.output().expect("运行 workbook");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// 评一份作业，返回 JSON 结果。
fn grade_json(root: &Path, submission: &Path, exercise: &str) -> serde_json::Value {
    grade_json_with(root, submission, exercise, &[])
}

/// 和 [`grade_json`] 一样，另外加上 `extra` 这几个参数（例如 `--no-sandbox`）。
fn grade_json_with(
    root: &Path,
    submission: &Path,
    exercise: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut command = workbook(root);
    command
        .args([
            "grade",
            "--format",
            "json",
            "--exercise",
            exercise,
            "--work-dir",
        ])
        .arg(shared_work_dir())
        .args(extra)
        .arg(submission);
    let (code, stdout, stderr) = run(command);
    serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "grade 没有输出 JSON（{err}），退出码 {code:?}\n标准输出：{stdout}\n标准错误：{stderr}"
        )
    })
}

/// 把参考答案（实验）的源码改一改，当作学生的练习文件。
fn lab_with(lab: &str, find: &str, replace: &str) -> String {
    let source = fs::read_to_string(repo().join(lab)).expect("读实验源码");
    assert!(source.contains(find), "{lab} 里找不到 {find:?}");
    source.replacen(find, replace, 1)
}

// ---------------------------------------------------------------- 不用编译的

/// 教师在自己的练习册里做过练习 2.1，再评一份空作业：学生得 0 分，状态是“空作业”。
/// 空作业不运行学生的代码：这里用 --no-sandbox，在没装 bubblewrap 的机器上也能运行；
/// 这样评出的成绩每一行都标着“未隔离”。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
fn empty_folder_scores_zero_even_when_the_instructor_solved_exercises() {
    let scratch = Scratch::new("empty");
    let clone = instructor_clone(&scratch);
    fs::copy(
        clone.join("labs/tcp/server.rs"),
        clone.join("labs/exercises/tcp_server.rs"),
    )
    .expect("教师做练习 2.1");
    let students = scratch.0.join("students");
    fs::create_dir_all(students.join("alice")).expect("空作业");
    let out = scratch.0.join("scores.csv");
    let mut command = workbook(&clone);
    command
        .args(["grade-folder"])
        .arg(&students)
        .arg("--out")
        .arg(&out)
        .arg("--work-dir")
        .arg(scratch.0.join("work"))
        .arg("--no-sandbox");
    let (code, stdout, stderr) = run(command);
    assert_eq!(code, Some(0), "grade-folder 失败：{stdout}{stderr}");
    let csv = fs::read_to_string(&out).expect("读 CSV");
    assert!(
        csv.starts_with('\u{feff}'),
        "CSV 应当以 BOM 开头，Excel 才认得出 UTF-8"
    );
    let alice = csv
        .lines()
        .find(|l| l.starts_with("alice,"))
        .expect("alice 的一行");
    assert!(
        alice.starts_with("alice,空作业,0,0,0,0,0,0,0,0,0,0,0,0,110,"),
        "空作业应当每个练习 0 分：{alice}"
    );
    assert!(alice.ends_with(",未隔离"), "没有沙箱的成绩要标上：{alice}");
    let json = fs::read_to_string(scratch.0.join("scores/alice.json")).expect("alice.json");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["student"], "alice");
    assert_eq!(json["status"], "empty");
    assert_eq!(json["total"], 0.0);
    assert_eq!(json["isolated"], false);
    assert_eq!(json["isolation"], "未隔离");
}

/// 练习文件是一个指向参考答案的符号链接：记为篡改，0 分。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
fn symlinked_exercise_is_tampering() {
    let scratch = Scratch::new("symlink");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("mallory");
    fs::create_dir_all(&student).expect("作业文件夹");
    std::os::unix::fs::symlink(
        clone.join("labs/tcp/server.rs"),
        student.join("tcp_server.rs"),
    )
    .expect("符号链接");
    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "json", "--no-sandbox", "--work-dir"])
        .arg(scratch.0.join("work"))
        .arg(&student);
    let (code, stdout, _) = run(command);
    assert_eq!(code, Some(3), "篡改的退出码是 3：{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["status"], "tampered");
    assert_eq!(json["total"], 0.0);
    assert!(json["note"].as_str().unwrap_or("").contains("符号链接"));

    // 路径中间的目录是符号链接（指向同学的作业）也一样
    let honest = scratch.0.join("honest");
    fs::create_dir_all(honest.join("labs/exercises")).expect("同学的作业");
    fs::copy(
        clone.join("labs/tcp/server.rs"),
        honest.join("labs/exercises/tcp_server.rs"),
    )
    .expect("同学的练习");
    let copycat = scratch.0.join("copycat");
    fs::create_dir_all(&copycat).expect("作业文件夹");
    std::os::unix::fs::symlink(honest.join("labs"), copycat.join("labs")).expect("符号链接");
    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "json", "--no-sandbox", "--work-dir"])
        .arg(scratch.0.join("work"))
        .arg(&copycat);
    let (code, stdout, _) = run(command);
    assert_eq!(code, Some(3), "篡改的退出码是 3：{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["status"], "tampered", "{json}");
}

/// cargo 启动不了：说“无法启动 cargo”，而不是“编译超时”。
#[test]
fn missing_cargo_is_reported_as_missing() {
    let scratch = Scratch::new("nocargo");
    let clone = instructor_clone(&scratch);
    // 改动练习文件，免得它因为和原始练习一模一样而根本不编译
    let stub = clone.join("labs/exercises/tcp_server.rs");
    let mut source = fs::read_to_string(&stub).expect("读练习");
    source.push_str("\n// 我开始做了\n");
    fs::write(&stub, source).expect("写练习");
    let mut command = workbook(&clone);
    command
        .args(["check", "tcp-server"])
        .env("CARGO", scratch.0.join("no-such-cargo"));
    let (code, stdout, stderr) = run(command);
    let all = format!("{stdout}{stderr}");
    assert_ne!(code, Some(0));
    assert!(all.contains("无法启动 cargo"), "{all}");
    assert!(!all.contains("超过"), "不该说超时：{all}");
}

// ---------------------------------------------------------------- 要编译、运行学生程序的

/// 学生在自己的仓库里改了测试和快照、重新生成了 Classroom 配置，交一个只回声一次的服务端：
/// 评分用的是教师那份规格，改动一概不起作用。
#[cfg(target_os = "linux")] // 评分要 Linux 的沙箱
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn edited_tests_in_the_students_repository_change_nothing() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("spec");
    let clone = instructor_clone(&scratch);
    // 学生的仓库：同一份练习册，自己动了手脚
    let student = scratch.0.join("student");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&clone)
        .arg(&student)
        .status()
        .expect("git clone");
    assert!(status.success());
    let read_once = lab_with(
        "labs/tcp/server.rs",
        "let mut buf = [0u8; 128];",
        "let mut buf = [0u8; 128];\n    let mut served = false;",
    )
    .replacen(
        "loop {\n",
        "loop {\n        if served { return; }\n        served = true;\n",
        1,
    );
    fs::write(student.join("labs/exercises/tcp_server.rs"), read_once).expect("写练习");
    fs::write(
        student.join("tests/snapshots/tcp_server_run.snap"),
        "---\nsource: tests/support/mod.rs\n---\n随便\n",
    )
    .expect("改快照");
    fs::write(student.join("tests/exercises.rs"), "// 没有测试了\n").expect("改测试");

    let json = grade_json(&clone, &student, "tcp-server");
    let exercise = &json["exercises"][0];
    assert_eq!(json["status"], "ok", "{json}");
    assert_ne!(
        exercise["state"], "passed",
        "只回声一次的服务端不该通过：{json}"
    );
    assert!(exercise["tests_passed"].as_u64() < exercise["tests_total"].as_u64());
}

/// 注入学生程序的代码：从自己的位置（可执行文件所在的目录、工作目录）一路往上，
/// 在每一层和它的每个子目录里找快照，找到就改写。
const REWRITE_SNAPSHOT: &str = r#"
fn tamper() {
    let mut starts = Vec::new();
    if let Ok(exe) = std::env::current_exe() { starts.push(exe); }
    if let Ok(cwd) = std::env::current_dir() { starts.push(cwd); }
    let mut candidates = Vec::new();
    for start in &starts {
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            candidates.push(d.to_path_buf());
            if let Ok(entries) = std::fs::read_dir(d) {
                candidates.extend(entries.flatten().map(|e| e.path()));
            }
            dir = d.parent();
        }
    }
    for d in candidates {
        {
            let snap = d.join("tests/snapshots/udp_client_no_reply.snap");
            // 扮演的攻击只动评分用的目录（名字里有 socket-workbook-grading）：
            // 同一台机器上别的练习册（比如系统临时目录里的另一份克隆）不能真的被它改坏
            if snap.exists() && snap.to_string_lossy().contains("socket-workbook-grading") {
                if let Ok(meta) = std::fs::metadata(&snap) {
                    let mut p = meta.permissions();
                    #[allow(clippy::permissions_set_readonly_false)]
                    p.set_readonly(false);
                    let _ = std::fs::set_permissions(&snap, p);
                }
                let _ = std::fs::write(&snap, "---\nsource: tests/support/mod.rs\n---\n我说了算\n");
            }
        }
    }
}
"#;

/// 学生的程序在评分时改写快照。沙箱里它找不到快照（规格只读，而且不在它看得见的地方）：
/// 这一行代码什么也没做，它照常得分。没有沙箱时（--no-sandbox）它真的改写了评分副本里的快照，
/// 评分器事后核对发现，记为篡改、0 分。两种情况下教师的练习册都一个字节也没变。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_rewrites_a_snapshot_changes_nothing() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("rewrite");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("mallory");
    fs::create_dir_all(&student).expect("作业文件夹");
    let source = lab_with(
        "labs/udp/client.rs",
        "let args = Args::parse();",
        "let args = Args::parse();\n    tamper();",
    ) + REWRITE_SNAPSHOT;
    fs::write(student.join("udp_client.rs"), source).expect("写练习");

    let json = grade_json(&clone, &student, "udp-client");
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["total"], 10.0, "{json}");

    let json = grade_json_with(&clone, &student, "udp-client", &["--no-sandbox"]);
    assert_eq!(json["status"], "tampered", "{json}");
    assert_eq!(json["total"], 0.0);
    assert!(
        json["note"]
            .as_str()
            .unwrap_or("")
            .contains("udp_client_no_reply.snap"),
        "说明里应当指出被改的快照：{json}"
    );
    let untouched = Command::new("git")
        .args(["diff", "--quiet"])
        .current_dir(&clone)
        .status()
        .expect("git diff");
    assert!(untouched.success(), "教师的练习册被改动了");
}

/// 学生的程序在评分时把测试程序换成自己（下一个学生就会用到一个假的测试程序）。
/// 沙箱里它看不到测试程序：什么也没换成，它照常得分，下一个学生照常满分。
/// 没有沙箱时它真的换掉了：记为篡改；评分器发现测试程序被换掉，重新编译，下一个学生照常满分。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_replaces_the_test_program_changes_nothing() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("replace");
    let clone = instructor_clone(&scratch);
    let mallory = scratch.0.join("mallory");
    fs::create_dir_all(&mallory).expect("作业文件夹");
    let replace = r#"
fn tamper() {
    let Ok(exe) = std::env::current_exe() else { return };
    let Some(deps) = exe.parent().map(|d| d.join("deps")) else { return };
    let Ok(entries) = std::fs::read_dir(&deps) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("exercises-") && !name.contains('.') {
            let _ = std::fs::remove_file(entry.path());
            let _ = std::fs::copy(&exe, entry.path());
        }
    }
}
"#;
    let source = lab_with(
        "labs/tcp/server.rs",
        "let args = Args::parse();",
        "let args = Args::parse();\n    tamper();",
    ) + replace;
    fs::write(mallory.join("tcp_server.rs"), source).expect("写练习");
    let honest = scratch.0.join("honest");
    fs::create_dir_all(&honest).expect("作业文件夹");
    fs::copy(
        repo().join("labs/tcp/server.rs"),
        honest.join("tcp_server.rs"),
    )
    .expect("写练习");

    for (mode, expected) in [
        (&[][..], ("ok", 10.0)),
        (&["--no-sandbox"][..], ("tampered", 0.0)),
    ] {
        let json = grade_json_with(&clone, &mallory, "tcp-server", mode);
        assert_eq!(json["status"], expected.0, "{mode:?}：{json}");
        assert_eq!(json["total"], expected.1, "{mode:?}：{json}");
        // 下一个学生交的是参考答案：照常满分
        let json = grade_json_with(&clone, &honest, "tcp-server", mode);
        assert_eq!(json["status"], "ok", "{mode:?}：{json}");
        assert_eq!(json["total"], 10.0, "{mode:?}：{json}");
    }
}

// ---------------------------------------------------------------- 检查期间又保存了文件

/// 一个假的 cargo：评分用的测试程序“编译成功”；编译学生的练习时，先替学生再保存一次练习文件
/// （只在第一次），再报告一个编译错误。这样“检查期间保存”每次都确定地发生在检查的正当中。
#[cfg(unix)] // 用 sh 脚本扮演 cargo
fn fake_cargo(scratch: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = scratch.0.join("fake-cargo");
    fs::write(
        &script,
        r#"#!/bin/sh
case "$*" in
  *--no-run*)
    echo '{"reason":"compiler-artifact","target":{"name":"exercises"},"executable":"/bin/true"}' ;;
  *"--bin ex-tcp-server"*)
    if [ ! -e "$SAVED_ONCE" ]; then
      touch "$SAVED_ONCE"
      printf '\n// 检查期间又保存了一次\n' >> "$EXERCISE_FILE"
    fi
    printf '%s\n' '{"reason":"compiler-message","target":{"name":"ex-tcp-server"},"message":{"level":"error","rendered":"error: 假的编译错误\n --> labs/exercises/tcp_server.rs:1:1\n"}}' ;;
esac
"#,
    )
    .expect("写脚本");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// 准备一个改过练习 2.1 的教师练习册，返回（练习册，练习文件）。
#[cfg(unix)] // 用 sh 脚本扮演 cargo
fn edited_clone(scratch: &Scratch) -> (PathBuf, PathBuf) {
    let clone = instructor_clone(scratch);
    let stub = clone.join("labs/exercises/tcp_server.rs");
    // 去掉 todo!()：练习算是动过了（内容是什么不要紧，cargo 是假的）
    let source = fs::read_to_string(&stub).expect("读练习");
    fs::write(&stub, source.replace("todo!(", "unimplemented!(")).expect("写练习");
    (clone, stub)
}

/// check 期间练习文件又被保存：不把旧结果记在新文件名下，并提醒再检查一次。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
fn check_never_pairs_a_result_with_a_file_saved_during_the_check() {
    let scratch = Scratch::new("race");
    let (clone, stub) = edited_clone(&scratch);
    let mut command = workbook(&clone);
    command
        .args(["check", "tcp-server"])
        .env("CARGO", fake_cargo(&scratch))
        .env("EXERCISE_FILE", &stub)
        .env("SAVED_ONCE", scratch.0.join("saved-once"));
    let (_, stdout, stderr) = run(command);
    assert!(stdout.contains("假的编译错误"), "{stdout}{stderr}");
    assert!(
        stdout.contains("又被保存过"),
        "应当提醒再检查一次：{stdout}"
    );
    let mut list = workbook(&clone);
    list.arg("list");
    let (_, listed, _) = run(list);
    let line = listed
        .lines()
        .find(|l| l.contains("tcp-server"))
        .expect("list 里有 tcp-server");
    assert!(
        line.contains("已修改，待检查"),
        "保存之后的文件还没检查过，不能显示旧的结果：{line}"
    );
}

/// watch 期间练习文件又被保存：马上再检查一次，不等下一次保存。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
fn watch_checks_again_after_a_save_during_a_check() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let scratch = Scratch::new("watch");
    let (clone, stub) = edited_clone(&scratch);
    let mut command = workbook(&clone);
    command
        .arg("watch")
        .env("CARGO", fake_cargo(&scratch))
        .env("EXERCISE_FILE", &stub)
        .env("SAVED_ONCE", scratch.0.join("saved-once"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("启动 watch");
    let stdout = child.stdout.take().expect("标准输出");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut builds = 0;
    while builds < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                builds += usize::from(line.starts_with("编译 tcp-server"));
                seen.push(line);
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.join("\n");
    assert_eq!(builds, 2, "保存之后应当马上再检查一次：\n{seen}");
    assert!(seen.contains("马上再检查一次"), "{seen}");
}

// ---------------------------------------------------------------- 学生看得懂的反馈、按测试给分

/// 改了一句话的 UDP 客户端：7 个测试过 4 个，得 5.75 分而不是 0 分；最先给出的是和书中记录的对照，
/// 中文的逐行对照，没有 Rust 的 panic 位置、left/right、insta 的英文报告。
/// 编译不过的练习：rustc 的原话一个字不改（行号栏和 ^ 标记对得上）。
#[cfg(target_os = "linux")] // 评分要 Linux 的沙箱
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn feedback_is_readable_and_points_are_per_test() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("feedback");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("bob");
    fs::create_dir_all(&student).expect("作业文件夹");
    // 重发的那一行自己写，少了两个空格
    let source = lab_with(
        "labs/udp/client.rs",
        "重发（第 {attempt} 次",
        "重发（第{attempt}次",
    );
    fs::write(student.join("udp_client.rs"), source).expect("写练习");
    fs::write(
        student.join("tcp_client.rs"),
        "fn main() {\n    let x: u32 = \"不是数字\";\n}\n",
    )
    .expect("写练习");

    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "json", "--work-dir"])
        .arg(shared_work_dir())
        .args(["--exercise", "udp-client", "--exercise", "tcp-client"])
        .arg(&student);
    let (_, stdout, stderr) = run(command);
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let udp = &json["exercises"][1];
    assert_eq!(udp["id"], "3.2");
    assert_eq!(udp["tests_passed"], 4, "{udp}");
    // 10 分分给 7 个测试：前 5 个各 1.5，后 2 个各 1.25；通过的是第 1、2、3、6 个
    assert_eq!(udp["points"], 5.75, "7 个测试过 4 个：1.5 × 3 + 1.25");
    let detail = udp["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("- 等了 1 秒没有收到回复，重发（第 1 次"),
        "{detail}"
    );
    assert!(
        detail.contains("+ 等了 1 秒没有收到回复，重发（第1次"),
        "{detail}"
    );
    for noise in [
        "panicked at",
        "left:",
        "right:",
        "insta",
        "RUST_BACKTRACE",
        "Snapshot",
    ] {
        assert!(!detail.contains(noise), "反馈里不该有 {noise}：{detail}");
    }

    let tcp = &json["exercises"][0];
    assert_eq!(tcp["state"], "compile_error", "{tcp}");
    let errors = tcp["detail"].as_str().unwrap_or("");
    // rustc 的行号栏：以空格开头的 “ --> ” 和 “  |” 原样保留
    assert!(errors.contains("error[E0308]"), "{errors}");
    assert!(errors.lines().any(|l| l.starts_with(" --> ")), "{errors}");
    assert!(
        errors
            .lines()
            .any(|l| l.trim_start() == "|" && l.starts_with(' ')),
        "{errors}"
    );

    // GitHub Classroom 的格式：每个测试一项，通过的测试各得一份分
    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "classroom", "--work-dir"])
        .arg(shared_work_dir())
        .args(["--exercise", "udp-client"])
        .arg(&student);
    let (code, stdout, _) = run(command);
    assert_eq!(code, Some(0), "评分运行了就以 0 退出，分数在结果里");
    let encoded = stdout
        .trim()
        .strip_prefix("result=")
        .expect("一行 result=<base64>");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let result: serde_json::Value = serde_json::from_slice(&decoded).expect("JSON");
    assert_eq!(result["max_score"], 10);
    let tests = result["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 7);
    let score: f64 = tests.iter().filter_map(|t| t["score"].as_f64()).sum();
    assert_eq!(score, 5.75, "和 JSON 里的分数一样");
}

/// 一次评分占着工位 slot-0 的时候，另一次评分用 slot-1，不会和它抢同一份副本。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
fn a_busy_grading_slot_is_left_alone() {
    let scratch = Scratch::new("slots");
    let clone = instructor_clone(&scratch);
    let work = scratch.0.join("work");
    fs::create_dir_all(work.join("slot-0")).expect("工位目录");
    let busy = fs::File::create(work.join("slot-0/lock")).expect("锁文件");
    busy.lock().expect("占住 slot-0");
    let student = scratch.0.join("carol");
    fs::create_dir_all(&student).expect("作业文件夹");
    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "json", "--no-sandbox", "--work-dir"])
        .arg(&work)
        .arg(&student);
    let (_, stdout, stderr) = run(command);
    assert!(stdout.contains("\"status\": \"empty\""), "{stdout}{stderr}");
    assert!(
        work.join("slot-1/lock").exists(),
        "slot-0 被占着，应当用 slot-1"
    );
}

/// 学生的程序往测试程序的标准输出里写假的 `test … ... ok`（在 Linux 上打开 /proc/父进程/fd/1），
/// 还夹着一个不是 UTF-8 的字节，想让评分工具读到一半就停下。沙箱里没有 /proc：假结果写不出去，
/// 它就是一个一启动就退出的服务端，一个测试也过不了。没有沙箱时假结果写进去了，
/// 评分器核对测试程序自己的账（说要运行几个、逐条结果、最后的统计），对不上，记为篡改。
#[cfg(target_os = "linux")] // /proc/PID/fd 是 Linux 的
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_writes_fake_results_gets_nothing() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("forge");
    let clone = instructor_clone(&scratch);
    let mallory = scratch.0.join("mallory");
    fs::create_dir_all(&mallory).expect("作业文件夹");
    let forge = r#"
fn forge() {
    use std::io::Write;
    let parent = std::os::unix::process::parent_id();
    if let Ok(mut out) = std::fs::OpenOptions::new().write(true).open(format!("/proc/{parent}/fd/1")) {
        for name in ["server_transcript", "server_serves_50_concurrent_clients",
                     "server_survives_a_reset_client", "server_echoes_1_mib_intact"] {
            let _ = writeln!(out, "test ex_2_1_{name} ... ok");
        }
        let _ = out.write_all(b"\xff\xfe\n");
    }
    std::process::exit(1);
}
"#;
    let source = lab_with(
        "labs/tcp/server.rs",
        "let args = Args::parse();",
        "let args = Args::parse();\n    forge();",
    ) + forge;
    fs::write(mallory.join("tcp_server.rs"), source).expect("写练习");
    let json = grade_json(&clone, &mallory, "tcp-server");
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["total"], 0.0, "{json}");
    assert_eq!(json["exercises"][0]["tests_passed"], 0, "{json}");

    let json = grade_json_with(&clone, &mallory, "tcp-server", &["--no-sandbox"]);
    assert_eq!(json["status"], "tampered", "{json}");
    assert_eq!(json["total"], 0.0);
}

/// 练习 5.1 的两种偷懒：每个地址只等 50 毫秒（不管 --connect-timeout 说了多少），
/// 或者全都失败时报告第一个地址的错误而不是最后一个。两种都不能拿满分，丢的正是检查这件事的测试。
#[cfg(target_os = "linux")] // 评分要 Linux 的沙箱
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn shortcuts_in_exercise_5_1_lose_points() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("dial-shortcuts");
    let clone = instructor_clone(&scratch);
    let shortcuts = [
        (
            "impatient",
            lab_with(
                "labs/lan/dial.rs",
                "timeout(per_address, TcpStream::connect(candidate))",
                "timeout(Duration::from_millis(50), TcpStream::connect(candidate))",
            ),
            &["dial_skips_a_silent_address", "dial_time_is_bounded"][..],
        ),
        (
            "first-error",
            lab_with(
                "labs/lan/dial.rs",
                "        last_error = err;",
                "        if i == 0 {\n            last_error = err;\n        }",
            ),
            &["dial_time_is_bounded"][..],
        ),
    ];
    for (who, source, failing) in shortcuts {
        let student = scratch.0.join(who);
        fs::create_dir_all(&student).expect("作业文件夹");
        fs::write(student.join("dial.rs"), source).expect("写练习");
        let json = grade_json(&clone, &student, "dial");
        let dial = &json["exercises"][0];
        assert_eq!(dial["id"], "5.1", "{dial}");
        let expected_passed = 5 - failing.len();
        assert_eq!(
            dial["tests_passed"], expected_passed,
            "{who}：应当只丢掉 {failing:?}：{dial}"
        );
        let not_passed: Vec<&str> = dial["tests"]
            .as_array()
            .expect("每个测试的结果")
            .iter()
            .filter(|t| t["passed"] == false)
            .filter_map(|t| t["name"].as_str()?.strip_prefix("ex_5_1_"))
            .collect();
        assert_eq!(
            not_passed, failing,
            "{who}：没通过的应当正是这些测试：{dial}"
        );
    }
}

/// 练习 6.2 的三种偷懒：先写完再读（天真的做法，只是换成了分开的两半），
/// 只读一次就算收完，或者把回声读完扔掉、拿发出的数据冒充回声。第一种只丢掉需要同时收发的测试
/// （缓冲区很小的几个：书里的记录、8 MiB、回声错了一个字节；默认的缓冲区装得下 1 MiB，这时先写完再读也能过），
/// 第二种丢掉每一个核对收回了全部字节的测试，第三种只丢掉回声被改了一个字节的那个测试。
#[cfg(target_os = "linux")] // 评分要 Linux 的沙箱
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn shortcuts_in_exercise_6_2_lose_points() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("bulk-shortcuts");
    let clone = instructor_clone(&scratch);
    let together = "    let (sent, received) = tokio::join!(\n        \
                    send_all(writer, data, progress),\n        \
                    receive_all(reader, data.len(), progress)\n    );";
    let shortcuts = [
        (
            "write-then-read",
            lab_with(
                "labs/life/bulk_client.rs",
                together,
                "    let sent = send_all(writer, data, progress).await;\n    \
                 let received = receive_all(reader, data.len(), progress).await;",
            ),
            &[
                "together_transcript",
                "together_completes_8_mib",
                "together_reports_a_corrupted_echo",
            ][..],
        ),
        (
            "one-read",
            lab_with(
                "labs/life/bulk_client.rs",
                together,
                "    let (sent, received) = tokio::join!(send_all(writer, data, progress), async {\n        \
                 let mut reader = reader;\n        \
                 let mut echo = vec![0u8; data.len()];\n        \
                 let n = reader.read(&mut echo).await.map_err(|err| receive_failed(0, &err))?;\n        \
                 echo.truncate(n);\n        \
                 Ok::<_, String>(echo)\n    });",
            ),
            &[
                "together_transcript",
                "together_echoes_1_mib_intact",
                "together_completes_8_mib",
                "together_server_sees_every_byte",
                "together_reports_a_corrupted_echo",
            ][..],
        ),
        (
            "discards-the-echo",
            lab_with(
                "labs/life/bulk_client.rs",
                together,
                "    let (sent, received) = tokio::join!(send_all(writer, data, progress), async {\n        \
                 let mut reader = reader;\n        \
                 tokio::io::copy(&mut reader, &mut tokio::io::sink())\n            \
                 .await\n            \
                 .map_err(|err| receive_failed(0, &err))?;\n        \
                 Ok::<_, String>(data.to_vec())\n    });",
            ),
            &["together_reports_a_corrupted_echo"][..],
        ),
    ];
    for (who, source, failing) in shortcuts {
        let student = scratch.0.join(who);
        fs::create_dir_all(&student).expect("作业文件夹");
        fs::write(student.join("bulk_client.rs"), source).expect("写练习");
        let json = grade_json(&clone, &student, "bulk-client");
        let bulk = &json["exercises"][0];
        assert_eq!(bulk["id"], "6.2", "{bulk}");
        let expected_passed = 6 - failing.len();
        assert_eq!(
            bulk["tests_passed"], expected_passed,
            "{who}：应当只丢掉 {failing:?}：{bulk}"
        );
        let not_passed: Vec<&str> = bulk["tests"]
            .as_array()
            .expect("每个测试的结果")
            .iter()
            .filter(|t| t["passed"] == false)
            .filter_map(|t| t["name"].as_str()?.strip_prefix("ex_6_2_"))
            .collect();
        assert_eq!(
            not_passed, failing,
            "{who}：没通过的应当正是这些测试：{bulk}"
        );
    }
}

/// 练习 6.1 的四种偷懒：只发 /ping、从不断开人（忘了看门狗的本职）；
/// 不看有没有报名、给每个人都发 /ping（nc 用户的屏幕上冒出 /ping，不说话的人也会被断开）；
/// 时限算错、等了 3 倍才断开（不出声的客户端断开之前被问了 8、9 次，而不是 2、3 次）；
/// 只问安静了一个间隔以上的人（一直回答的客户端隔一轮才被问一次）。
/// 都不能拿满分，丢的正是检查这件事的测试。
#[cfg(target_os = "linux")] // 评分要 Linux 的沙箱
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn shortcuts_in_exercise_6_1_lose_points() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("heartbeat-shortcuts");
    let clone = instructor_clone(&scratch);
    let shortcuts = [
        (
            "never-drops",
            lab_with(
                "labs/chat/server.rs",
                "            if self.clients[&id].last_heard.elapsed() >= limit {\n\
                 \x20               self.drop_silent(id, limit);\n\
                 \x20           } else {\n\
                 \x20               self.tell(id, PING);\n\
                 \x20           }",
                "            let _ = limit;\n            self.tell(id, PING);",
            ),
            &[
                "heartbeat_drops_a_silent_client",
                "heartbeat_waits_for_the_limit",
                // dave 一直不被断开，carol 等不到他心跳超时
                "heartbeat_pings_every_interval",
            ][..],
        ),
        (
            "pings-everyone",
            lab_with(
                "labs/chat/server.rs",
                ".filter(|(_, c)| c.heartbeat)",
                ".filter(|_| true)",
            ),
            &[
                "heartbeat_drops_a_silent_client",
                "heartbeat_leaves_plain_clients_alone",
                "lab_client_answers_pings_silently",
            ][..],
        ),
        (
            "three-times-the-limit",
            lab_with(
                "labs/chat/server.rs",
                ".last_heard.elapsed() >= limit {",
                ".last_heard.elapsed() >= limit * 3 {",
            ),
            &["heartbeat_drops_a_silent_client"][..],
        ),
        (
            "pings-only-the-quiet",
            lab_with(
                "labs/chat/server.rs",
                "            } else {\n\
                 \x20               self.tell(id, PING);\n\
                 \x20           }",
                "            } else if self.clients[&id].last_heard.elapsed() >= self.settings.heartbeat {\n\
                 \x20               self.tell(id, PING);\n\
                 \x20           }",
            ),
            &["heartbeat_pings_every_interval"][..],
        ),
    ];
    for (who, source, failing) in shortcuts {
        let student = scratch.0.join(who);
        fs::create_dir_all(&student).expect("作业文件夹");
        fs::write(student.join("chat_heartbeat.rs"), source).expect("写练习");
        let json = grade_json(&clone, &student, "chat-heartbeat");
        let heartbeat = &json["exercises"][0];
        assert_eq!(heartbeat["id"], "6.1", "{heartbeat}");
        let expected_passed = 5 - failing.len();
        assert_eq!(
            heartbeat["tests_passed"], expected_passed,
            "{who}：应当只丢掉 {failing:?}：{heartbeat}"
        );
        let not_passed: Vec<&str> = heartbeat["tests"]
            .as_array()
            .expect("每个测试的结果")
            .iter()
            .filter(|t| t["passed"] == false)
            .filter_map(|t| t["name"].as_str()?.strip_prefix("ex_6_1_"))
            .collect();
        assert_eq!(
            not_passed, failing,
            "{who}：没通过的应当正是这些测试：{heartbeat}"
        );
    }
}

// ---------------------------------------------------------------- 存心捣乱的学生：沙箱
//
// 每个测试扮演一个真想得逞的学生，攻击代码只用标准库和 libc（labs/workbook/attacks.rs）。
// 没有沙箱的评分器（2026 年 12 月以前的 main）上，这些攻击都得手了：满分、改成绩表、
// 偷拿和陷害同学、让下一个学生被假的测试程序评分、把教师的文件带进反馈、卡住全班。
// 每个测试都在攻击之后接着评一个老实的学生，证明他得到的就是老实的分数。

#[path = "../labs/workbook/attacks.rs"]
mod attacks;
#[path = "grading/class.rs"]
mod class;

use class::{ClassResult, KillOnDrop, assert_no_survivors, grade_class, make_class, snapshot};

/// 这个测试独有的标记：学生的后台进程把它放在自己的命令行里，测试据此找出活下来的进程。
fn marker(name: &str) -> String {
    format!("mallory-{name}-{}", std::process::id())
}

/// 实验的源码（参考答案），末尾加一行注释，免得两个学生交的一模一样。
fn reference(lab: &str, who: &str) -> String {
    fs::read_to_string(repo().join(lab)).expect("读实验源码") + &format!("\n// {who} 的作业\n")
}

/// 什么也不做的 `process`（练习 2.1 的一种错误答案）。
fn broken_server() -> String {
    lab_with(
        "labs/tcp/server.rs",
        "    let mut buf = [0u8; 128];",
        "    if true {\n        return;\n    }\n    let mut buf = [0u8; 128];",
    )
}

/// 扮演作弊学生的一个测试：临时目录、教师的练习册、这个测试独有的标记（学生的后台进程把它放在
/// 自己的命令行里，测试据此找出活下来的进程，结束时一个不留）、评分目录（和别的慢测试共用）。
struct Attack {
    scratch: Scratch,
    clone: PathBuf,
    mark: String,
    work: PathBuf,
    _cleanup: KillOnDrop,
}

impl Attack {
    fn new(name: &str) -> Attack {
        let scratch = Scratch::new(name);
        let clone = instructor_clone(&scratch);
        let mark = marker(name);
        Attack {
            _cleanup: KillOnDrop(mark.clone()),
            scratch,
            clone,
            mark,
            work: shared_work_dir(),
        }
    }

    /// 攻击代码的公共部分：只许碰测试自己的临时目录和评分目录。
    fn toolkit(&self) -> String {
        attacks::toolkit(&self.mark, &[&self.scratch.0, &self.work])
    }

    /// 在 `source`（一个实验的 main 开头是 `let args = Args::parse();`）的 main 开头启动后台进程，
    /// 末尾加上攻击代码。
    fn daemon(&self, source: &str, attack: &str) -> String {
        assert!(source.contains("let args = Args::parse();"));
        source.replacen(
            "let args = Args::parse();",
            "if mallory_start(mallory_daemon) {\n        return ExitCode::SUCCESS;\n    }\n    let args = Args::parse();",
            1,
        ) + &self.toolkit()
            + attack
    }

    fn class(&self) -> PathBuf {
        self.scratch.0.join("class")
    }

    fn out(&self) -> PathBuf {
        self.scratch.0.join("scores.csv")
    }

    /// 造好班级，`--jobs 1` 评一遍。
    fn grade(&self, students: &[(&str, class::Files)]) -> ClassResult {
        make_class(&self.class(), students);
        self.grade_again()
    }

    /// 把已经造好的班级再评一遍。
    fn grade_again(&self) -> ClassResult {
        grade_class(
            workbook(&self.clone),
            &self.class(),
            &self.out(),
            &self.work,
        )
    }
}

/// 老实的同学：交的是练习 2.1 的参考答案。
fn honest(name: &'static str) -> (&'static str, class::Files) {
    (
        name,
        vec![("tcp_server.rs", reference("labs/tcp/server.rs", name))],
    )
}

/// 在 main 开头调用 `call`（例如 `mallory_leak();`）。
fn calling(source: &str, call: &str) -> String {
    source.replacen(
        "let args = Args::parse();",
        &format!("{call}\n    let args = Args::parse();"),
        1,
    )
}

/// tests/exercises.rs 里以 `prefix` 开头的测试名（假的测试程序要照着它们报“通过”）。
fn test_names(prefix: &str) -> Vec<String> {
    let text =
        fs::read_to_string(repo().join("tests/exercises.rs")).expect("读 tests/exercises.rs");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("async fn "))
        .filter_map(|l| l.split('(').next())
        .filter(|name| name.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// 一个学生的总分和状态。
fn total_and_status(result: &ClassResult, name: &str) -> (f64, String) {
    let json = result.student(name);
    (
        json["total"].as_f64().unwrap_or(-1.0),
        json["status"].as_str().unwrap_or_default().to_string(),
    )
}

/// 发现 1：`process` 什么也不做，后台进程（setsid）通过 /proc/父进程/exe 把测试程序换成一个
/// 假的：评分器重跑没通过的测试时，假的先把真的换回原处，再报告全部通过。
/// 沙箱里没有 /proc、看不到测试程序：它的成绩和交同样的错误答案、没有攻击代码的“双胞胎”一模一样。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn student_who_swaps_the_test_program_gets_an_honest_grade() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("swap");
    let fake = attacks::fake_test_program(&[], Some(("@BACKUP@", "@ORIGINAL@")));
    let mallory = attack.daemon(&broken_server(), &attacks::replace_test_program(&fake));
    let result = attack.grade(&[
        ("a-mallory", vec![("tcp_server.rs", mallory)]),
        ("b-twin", vec![("tcp_server.rs", broken_server())]),
        honest("c-honest"),
    ]);
    assert_no_survivors(&attack.mark, Duration::from_secs(5), || result.csv.clone());
    assert_eq!(
        result.tests_of("a-mallory"),
        result.tests_of("b-twin"),
        "换测试程序的学生应当和交同样错误答案的学生得分一样：\n{}",
        result.csv
    );
    assert_eq!(
        total_and_status(&result, "a-mallory"),
        total_and_status(&result, "b-twin")
    );
    assert!(
        total_and_status(&result, "a-mallory").0 < 10.0,
        "{}",
        result.csv
    );
    assert_eq!(
        total_and_status(&result, "c-honest"),
        (10.0, "ok".into()),
        "{}",
        result.csv
    );
}

/// 发现 2：后台进程读出评分器的命令行，等评分器写完成绩、退出之后，改掉成绩表：自己满分，同学 0 分。
/// 沙箱的 PID 命名空间随评分一起结束：评分器退出时学生的进程一个也不剩，成绩表是评分器写的那一份。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn results_cannot_be_forged_after_the_grader_exits() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("forge-csv");
    let mallory = attack.daemon(
        &broken_server(),
        &attacks::forge_results("a-mallory", "zoe"),
    );
    let result = attack.grade(&[
        ("a-mallory", vec![("tcp_server.rs", mallory)]),
        honest("zoe"),
    ]);
    let (written, out) = (result.csv.clone(), attack.out());
    assert_no_survivors(&attack.mark, Duration::from_secs(20), || {
        format!(
            "评分器写的成绩表：\n{written}\n现在的成绩表：\n{}",
            fs::read_to_string(&out).unwrap_or_default()
        )
    });
    assert_eq!(
        fs::read_to_string(&out).unwrap_or_default(),
        written,
        "成绩表被改了"
    );
    assert!(!out.with_extension("forged").exists(), "成绩表被改过");
    let zoe = result
        .csv
        .lines()
        .find(|l| l.starts_with("zoe,"))
        .expect("zoe 的一行");
    assert!(zoe.starts_with("zoe,正常,10,"), "{zoe}");
    assert!(
        total_and_status(&result, "a-mallory").0 < 10.0,
        "{}",
        result.csv
    );
}

/// 发现 3：后台进程从评分器的命令行找到班级文件夹，拷走 bob 的作业，在 carol 被评之前把她交的文件
/// 换成原始的练习（空作业，0 分），往 dave 的评分副本里丢一个文件（篡改，0 分）。
/// 沙箱里看不到班级文件夹和评分副本，作业在任何学生的代码运行之前就读进了内存：三个人都照常满分。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn classmates_cannot_be_robbed_or_framed() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("rob");
    let mallory = attack.daemon(
        &reference("labs/tcp/server.rs", "a-mallory"),
        &attacks::rob_and_frame("b-bob", "c-carol", "d-dave"),
    );
    make_class(
        &attack.class(),
        &[
            ("a-mallory", vec![("tcp_server.rs", mallory)]),
            honest("b-bob"),
            honest("c-carol"),
            honest("d-dave"),
        ],
    );
    let before = snapshot(&attack.class());
    let result = attack.grade_again();
    assert_no_survivors(&attack.mark, Duration::from_secs(5), || result.csv.clone());
    let loot = attack.scratch.0.join("loot");
    assert!(!loot.exists(), "bob 的作业被拷走了：{}", loot.display());
    assert!(snapshot(&attack.class()) == before, "班级文件夹被改动了");
    for who in ["a-mallory", "b-bob", "c-carol", "d-dave"] {
        assert_eq!(
            total_and_status(&result, who),
            (10.0, "ok".into()),
            "{who}：\n{}",
            result.csv
        );
    }
}

/// 发现 4：学生的程序在工位的上一层目录写 `.cargo/config.toml`（rustc-wrapper 把编译出的测试程序
/// 换成假的），再碰一下 tests/exercises.rs：下一个什么也没写的学生拿 20 分，以后用这个工作目录的评分
/// 也都一样。沙箱里看不到工作目录；评分工具在编译的沙箱里编译，不读沙箱外的 cargo 设置。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn the_next_student_is_never_graded_by_a_fake() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("poison");
    let names = ["ex_2_1_", "ex_2_2_"]
        .map(|prefix| (prefix.to_string(), test_names(prefix)))
        .to_vec();
    let fake = attacks::fake_test_program(&names, None);
    let mallory = calling(
        &reference("labs/tcp/server.rs", "a-mallory"),
        "mallory_poison();",
    ) + &attack.toolkit()
        + &attacks::poison_the_next_build(&fake);
    // b-nobody 只在两个练习文件末尾加了一行注释：编译、测试，但一个测试也过不了
    let stub = |file: &str| {
        fs::read_to_string(attack.clone.join("labs/exercises").join(file)).expect("读练习")
            + "\n// 明天再写\n"
    };
    make_class(
        &attack.class(),
        &[
            ("a-mallory", vec![("tcp_server.rs", mallory)]),
            (
                "b-nobody",
                vec![
                    ("tcp_server.rs", stub("tcp_server.rs")),
                    ("tcp_client.rs", stub("tcp_client.rs")),
                ],
            ),
        ],
    );
    for round in 1..=2 {
        let result = attack.grade_again();
        assert_eq!(
            total_and_status(&result, "b-nobody").0,
            0.0,
            "第 {round} 次：什么也没写的学生拿到了分：\n{}",
            result.csv
        );
        assert_eq!(
            total_and_status(&result, "a-mallory"),
            (10.0, "ok".into()),
            "{}",
            result.csv
        );
    }
    for dir in [&attack.work, &attack.scratch.0] {
        assert!(
            !dir.join(".cargo").exists(),
            "{} 里出现了学生写的 .cargo",
            dir.display()
        );
    }
}

/// 发现 5：编译错误和程序的输出里带着评分机器上的东西（主机名、HOME、教师的文件、同学的作业）。
/// 沙箱里看不到它们：编译错误只说读不到，程序的输出里只有“读不到”。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn feedback_never_carries_what_the_sandbox_cannot_see() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("leak");
    let clone = instructor_clone(&scratch);
    let mark = marker("leak");
    let secret = scratch.0.join("instructor-home/教师的答案.txt");
    fs::create_dir_all(secret.parent().expect("目录")).expect("教师的目录");
    fs::write(&secret, format!("INSTRUCTOR-SECRET-{mark}")).expect("教师的文件");
    let class = scratch.0.join("class");
    let classmate = class.join("zoe/tcp_client.rs");
    let (secret_text, classmate_text) = (
        secret.to_string_lossy().to_string(),
        classmate.to_string_lossy().to_string(),
    );
    let server = calling(
        &reference("labs/tcp/server.rs", "a-mallory"),
        "mallory_leak();",
    ) + &attacks::run_time_leak(&secret_text, &classmate_text);
    make_class(
        &class,
        &[
            (
                "a-mallory",
                vec![
                    ("tcp_server.rs", server),
                    (
                        "tcp_client.rs",
                        attacks::compile_time_leak(&secret_text, &classmate_text),
                    ),
                ],
            ),
            (
                "zoe",
                vec![(
                    "tcp_client.rs",
                    reference("labs/tcp/client.rs", &format!("CLASSMATE-WORK-{mark}")),
                )],
            ),
        ],
    );
    let out = scratch.0.join("scores.csv");
    let result = grade_class(workbook(&clone), &class, &out, &shared_work_dir());
    let feedback = result.student("a-mallory").to_string();
    let home = std::env::var("HOME").unwrap_or_default();
    let hostname = fs::read_to_string("/etc/hostname").unwrap_or_default();
    let mut leaks = vec![
        format!("INSTRUCTOR-SECRET-{mark}"),
        format!("CLASSMATE-WORK-{mark}"),
    ];
    if home.len() > 1 {
        leaks.push(format!("HOME={home}"));
    }
    if !hostname.trim().is_empty() {
        leaks.push(format!("HOSTNAME={}", hostname.trim()));
    }
    for leak in &leaks {
        assert!(
            !feedback.contains(leak.as_str()),
            "反馈里出现了 {leak}：\n{feedback}"
        );
    }
    // 攻击真的试过了：编译错误说读不到那几个文件，程序的输出里也是
    assert!(
        feedback.contains("couldn't read"),
        "编译错误里应当说读不到：\n{feedback}"
    );
    assert!(
        feedback.contains("SECRET 读不到"),
        "程序的输出里应当说读不到：\n{feedback}"
    );
}

/// 发现 6：后台进程通过 /proc 拿着测试程序的标准输出、标准错误不放，评分器等不到管道的结尾，
/// 全班都评不完。沙箱里没有 /proc，PID 命名空间随评分一起结束；就算在没有沙箱的评分里
/// （--no-sandbox，攻击得手），读管道也只等到程序结束后的几秒，全班照样评完。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn one_student_cannot_stop_the_class() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("hold");
    let mallory = attack.daemon(
        &reference("labs/tcp/server.rs", "a-mallory"),
        attacks::HOLD_THE_PIPES,
    );
    let result = attack.grade(&[
        ("a-mallory", vec![("tcp_server.rs", mallory)]),
        honest("zoe"),
    ]);
    assert_no_survivors(&attack.mark, Duration::from_secs(1), || result.csv.clone());
    for who in ["zoe", "a-mallory"] {
        assert_eq!(
            total_and_status(&result, who),
            (10.0, "ok".into()),
            "{who}：{}",
            result.csv
        );
    }

    // 没有沙箱：攻击得手（管道真的被拿住了），评分器照样在时限内评完全班
    let result = class::grade_class_with(
        workbook(&attack.clone),
        &attack.class(),
        &attack.scratch.0.join("unprotected.csv"),
        &attack.scratch.0.join("work-unprotected"),
        &["--no-sandbox"],
    );
    assert!(
        !class::processes_with(&attack.mark).is_empty(),
        "没有沙箱时，后台进程应当还活着（攻击得手）：这个测试才说明了读管道有时限"
    );
    assert_eq!(
        total_and_status(&result, "zoe"),
        (10.0, "ok".into()),
        "{}",
        result.csv
    );
    assert!(
        result
            .student("a-mallory")
            .to_string()
            .contains("输出管道还被别的进程拿着"),
        "{}",
        result.student("a-mallory")
    );
}

/// 滥用资源：几千个进程、8 GiB 内存、往 /tmp 写 2 GiB。沙箱的上限让它自己失败，
/// 评分照常结束，下一个学生照常满分，它开的进程一个也不剩。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn resource_abuse_stays_inside_the_sandbox() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let attack = Attack::new("exhaust");
    let _sleepers = KillOnDrop("611.4242".into());
    let mallory = calling(
        &reference("labs/tcp/server.rs", "a-mallory"),
        "mallory_exhaust();",
    ) + attacks::EXHAUST_RESOURCES;
    let result = attack.grade(&[
        ("a-mallory", vec![("tcp_server.rs", mallory)]),
        honest("zoe"),
    ]);
    assert_no_survivors("611.4242", Duration::from_secs(1), || result.csv.clone());
    assert!(
        total_and_status(&result, "a-mallory").0 < 10.0,
        "{}",
        result.csv
    );
    assert_eq!(
        total_and_status(&result, "zoe"),
        (10.0, "ok".into()),
        "{}",
        result.csv
    );
}

// ---------------------------------------------------------------- GitHub Classroom：整个工作流

#[cfg(unix)] // 用进程组结束超时的一步
#[path = "grading/actions.rs"]
mod actions;

/// `result=` 后面那一段（base64）解码出来的 JSON 文字。
fn decoded_result(encoded: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|err| panic!("不是 base64（{err}）：{encoded:?}"));
    String::from_utf8_lossy(&bytes).to_string()
}

/// 按汇总报告（classroom-resources/autograding-grading-reporter v1）自己的做法读结果：
/// 每个练习一个环境变量，base64 解码、JSON.parse，分数按顺序加起来（JavaScript 的数就是 f64）。
/// 返回（总分，满分）。任何一个解不开，汇总报告就整个失败、谁的分都不报：这里让测试失败。
fn reporter_totals(env: &BTreeMap<String, String>) -> (f64, f64) {
    use base64::Engine as _;
    // Linux 上一个环境变量（连同名字）最多 128 KiB（MAX_ARG_STRLEN）：超过了汇总报告根本启动不了
    for (key, value) in env {
        assert!(
            key.len() + value.len() + 2 <= 128 * 1024,
            "{key} 有 {} 字节，汇总报告启动不了",
            value.len()
        );
    }
    let status = Command::new("true")
        .env_clear()
        .envs(env)
        .status()
        .expect("带着这些环境变量启动一个程序");
    assert!(status.success());
    let (mut total, mut max) = (0.0, 0.0);
    for (key, value) in env.iter().filter(|(k, _)| k.ends_with("_RESULTS")) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap_or_else(|err| panic!("{key} 不是 base64（{err}）：{value:?}"));
        let result: serde_json::Value = serde_json::from_slice(&decoded)
            .unwrap_or_else(|err| panic!("{key} 不是 JSON（{err}）"));
        max += result["max_score"].as_f64().expect("max_score");
        for test in result["tests"].as_array().expect("tests") {
            total += test["score"].as_f64().expect("score");
        }
    }
    (total, max)
}

/// 一个 GitHub 上的工作目录：submission/ 是学生的仓库（只放着几个练习文件），
/// template/ 是教师的模板仓库（这份仓库的克隆）。返回（工作目录，模板的提交号）。
fn classroom_workspace(scratch: &Scratch, files: &[(&str, String)]) -> (PathBuf, String) {
    let workspace = scratch.0.join("workspace");
    let template = workspace.join("template");
    fs::create_dir_all(&workspace).expect("工作目录");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo())
        .arg(&template)
        .status()
        .expect("git clone");
    assert!(status.success());
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&template)
        .output()
        .expect("git rev-parse");
    let submission = workspace.join("submission");
    fs::create_dir_all(submission.join("labs/exercises")).expect("学生的仓库");
    for (name, text) in files {
        fs::write(submission.join("labs/exercises").join(name), text).expect("学生的文件");
    }
    (
        workspace,
        String::from_utf8_lossy(&head.stdout).trim().to_string(),
    )
}

/// 组织变量没设：第一步说明原因后失败，之后的步骤（包括汇总报告）都跳过，
/// 不会再冒出一句英文的 “Unexpected end of JSON input”。
#[cfg(unix)]
#[test]
fn classroom_workflow_stops_cleanly_without_the_template_ref() {
    let scratch = Scratch::new("classroom-setup");
    let workspace = scratch.0.join("workspace");
    fs::create_dir_all(&workspace).expect("工作目录");
    let yaml = fs::read_to_string(repo().join(".github/workflows/classroom.yml")).expect("工作流");
    let vars = BTreeMap::from([("WORKBOOK_TEMPLATE", "course/socket-workbook".to_string())]);
    let run = actions::run(
        &yaml,
        &vars,
        &workspace,
        &scratch.0.join("runner-temp"),
        &[],
        &BTreeMap::new(),
    );
    assert_eq!(run.outcomes[&run.order[0]], "failure", "{}", run.log);
    assert!(run.log.contains("WORKBOOK_TEMPLATE_REF"), "{}", run.log);
    assert!(run.reporter.is_none(), "没有评分就不该运行汇总报告");
    for step in &run.order[1..] {
        assert_eq!(run.outcomes[step], "skipped", "{step}：{}", run.log);
    }
}

/// 按 GitHub 的规矩把整个工作流跑一遍：练习 2.1 是参考答案，练习 2.2 的那一步超时（被从外面停掉，
/// 什么也没交出来），练习 3.2 有 200 KB 的编译错误。后面的步骤照样评分，每个练习都带着一个结果
/// 到达汇总报告，每个结果都解得开，总分正好是 10/110。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn classroom_workflow_reports_every_exercise_despite_a_timeout_and_a_huge_error() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("classroom");
    // 200 KB 的编译错误：几百行类型不对的赋值，每行带着一长串文字
    let mut huge = String::from("fn main() {\n");
    for i in 0..400 {
        huge.push_str(&format!(
            "    let _e{i}: u32 = \"{}\";\n",
            "这不是一个数字".repeat(12)
        ));
    }
    huge.push_str("}\n");
    let hanging = lab_with(
        "labs/tcp/client.rs",
        "let args = Args::parse();",
        "std::thread::sleep(std::time::Duration::from_secs(3600));\n    let args = Args::parse();",
    );
    let (workspace, head) = classroom_workspace(
        &scratch,
        &[
            ("tcp_server.rs", reference("labs/tcp/server.rs", "学生")),
            ("tcp_client.rs", hanging),
            ("udp_client.rs", huge),
        ],
    );
    let yaml = fs::read_to_string(repo().join(".github/workflows/classroom.yml")).expect("工作流");
    let vars = BTreeMap::from([
        ("WORKBOOK_TEMPLATE", "course/socket-workbook".to_string()),
        ("WORKBOOK_TEMPLATE_REF", head),
    ]);
    // 评分工具和评分器的编译结果留在固定的地方，下一次跑这个测试接着用
    let shared = std::env::temp_dir().join("socket-workbook-grading-tests-runner");
    let env = [(
        "CARGO_TARGET_DIR",
        shared.join("target").to_string_lossy().to_string(),
    )];
    // 练习 2.2 的那一步只给 3 秒：评分器还没来得及交出结果，就被从外面停掉
    let timeouts = BTreeMap::from([("ex22", Duration::from_secs(3))]);
    let run = actions::run(&yaml, &vars, &workspace, &shared, &env, &timeouts);
    assert_eq!(run.outcomes["prepare"], "success", "{}", run.log);
    assert_eq!(
        run.outcomes["ex22"], "failure",
        "这一步应当超时：{}",
        run.log
    );
    for id in [
        "ex21", "ex23", "ex31", "ex32", "ex41", "ex51", "ex61", "ex62",
    ] {
        assert_eq!(
            run.outcomes[id], "success",
            "{id}：前面一步超时，这一步也要照样评分：{}",
            run.log
        );
    }
    let reporter = run.reporter.as_ref().expect("汇总报告运行了");
    let (total, max) = reporter_totals(reporter);
    assert_eq!(max, 110.0);
    assert_eq!(total, 10.0, "2.1 满分，其余 0 分：\n{}", run.log);
    // 超时的那一步交给汇总报告的是事先写好的 0 分结果；编译错误的说明被截断了，但还在
    let ex32 = &reporter["EX32_RESULTS"];
    assert!(
        ex32.len() < 64 * 1024,
        "EX32_RESULTS 有 {} 字节",
        ex32.len()
    );
    let text = decoded_result(ex32);
    assert!(
        text.contains("编译失败") && text.contains("E0308"),
        "{text}"
    );
}

// ---------------------------------------------------------------- 建不了沙箱、评分工具坏了

/// 找不到 bubblewrap：评分说明缺什么、怎么装、还有 --no-sandbox 这条路，不评分，退出码 2，
/// 也不写成绩表。GitHub Classroom 的格式照样交出一个结果（0 分，写明原因）。
#[cfg(target_os = "linux")]
#[test]
fn grading_refuses_without_bubblewrap() {
    let scratch = Scratch::new("no-bwrap");
    let clone = instructor_clone(&scratch);
    let class = scratch.0.join("class");
    make_class(&class, &[honest("alice")]);
    let missing = scratch.0.join("no-such-bwrap");
    let out = scratch.0.join("scores.csv");
    let mut folder = workbook(&clone);
    folder
        .arg("grade-folder")
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .arg("--work-dir")
        .arg(scratch.0.join("work"))
        .env("WORKBOOK_BWRAP", &missing);
    let (code, stdout, stderr) = run(folder);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    for needed in ["bubblewrap", "apt-get install bubblewrap", "--no-sandbox"] {
        assert!(stderr.contains(needed), "说明里应当有 {needed}：{stderr}");
    }
    assert!(!out.exists(), "不评分就不该写成绩表");

    let mut classroom = workbook(&clone);
    classroom
        .args(["grade", "--format", "classroom", "--exercise", "tcp-server"])
        .arg("--work-dir")
        .arg(scratch.0.join("work"))
        .arg(class.join("alice"))
        .env("WORKBOOK_BWRAP", &missing);
    let (code, stdout, stderr) = run(classroom);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let encoded = stdout.trim().strip_prefix("result=").expect("result=");
    let (total, max) = reporter_totals(&BTreeMap::from([(
        "EX21_RESULTS".to_string(),
        encoded.to_string(),
    )]));
    assert_eq!((total, max), (0.0, 10.0));
    let text = decoded_result(encoded);
    assert!(
        text.contains("\"status\":\"error\"") && text.contains("bubblewrap"),
        "{text}"
    );
}

/// 这台机器不许普通用户建用户命名空间（这里：在一个用户命名空间里把上限设成 0，再以 nobody 运行评分器，
/// 就像 Ubuntu 24.04 的 AppArmor 限制那样）：评分说出该改哪一项设置，不评分。需要 root。
#[cfg(target_os = "linux")]
#[test]
fn grading_names_the_setting_that_forbids_user_namespaces() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Stdio;
    if !is_root() {
        skip_or_fail("要以 root 运行才能搭一个不许建用户命名空间的环境");
        return;
    }
    let scratch = Scratch::new("no-userns");
    fs::set_permissions(&scratch.0, fs::Permissions::from_mode(0o755)).expect("chmod");
    // 评分用的目录属于运行评分的用户（nobody），评分器才肯用它
    let work = scratch.0.join("work");
    fs::create_dir_all(&work).expect("工作目录");
    std::os::unix::fs::chown(&work, Some(65534), Some(65534)).expect("chown");
    // 映射写好之后再 exec 一次 sh：以命名空间里的 root 重新运行程序，才拿回这个命名空间里的权限
    let script = format!(
        "read go && exec sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && \
         exec setpriv --reuid 65534 --regid 65534 --clear-groups {} --root {} grade --work-dir {} {}'",
        env!("CARGO_BIN_EXE_workbook"),
        repo().display(),
        work.display(),
        scratch.0.display()
    );
    let mut child = Command::new("unshare")
        .args(["--user", "sh", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("运行 unshare");
    // 等 unshare 建好新的用户命名空间，再从外面（root）给它写上完整的映射，就像 newuidmap 做的那样
    let ns = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/user")).ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ns(&child.id().to_string()) == ns("self") {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare 10 秒内没有建好用户命名空间"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for map in ["uid_map", "gid_map"] {
        fs::write(format!("/proc/{}/{map}", child.id()), "0 0 65536\n").expect(map);
    }
    child
        .stdin
        .take()
        .expect("标准输入")
        .write_all(b"go\n")
        .expect("开始");
    let output = child.wait_with_output().expect("等评分器");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("user.max_user_namespaces") && stderr.contains("--no-sandbox"),
        "说明里应当说出要改的设置：{stderr}"
    );
}

#[cfg(unix)]
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// CI 设了 SOCKET_WORKBOOK_REQUIRE_LAN：那里以 root 运行，条件不满足就是配置出错，要失败而不是跳过。
fn skip_or_fail(why: &str) {
    if std::env::var_os("SOCKET_WORKBOOK_REQUIRE_LAN").is_some() {
        panic!("{why}（设置了 SOCKET_WORKBOOK_REQUIRE_LAN：这里不许跳过）");
    }
    eprintln!("跳过：{why}");
}

/// 评分工具目录里的一个实验程序被改了一个字节（比如机器上别的什么写坏了它）：下一次评分
/// 核对时发现，不再相信这份评分工具，从提交重新编译一份，学生照常得分。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn a_changed_harness_is_rebuilt_from_the_commit() {
    use std::os::unix::fs::PermissionsExt;
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("harness");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("alice");
    fs::create_dir_all(&student).expect("作业文件夹");
    fs::write(
        student.join("chat_client.rs"),
        reference("labs/chat/client.rs", "alice"),
    )
    .expect("写练习");
    // 自己的评分目录：里面只有这一份评分工具（第一次评分时编译）
    let work = scratch.0.join("work");
    let grade = || {
        let mut command = workbook(&clone);
        command
            .args([
                "grade",
                "--format",
                "json",
                "--exercise",
                "chat-client",
                "--work-dir",
            ])
            .arg(&work)
            .arg(&student);
        run(command)
    };
    let (_, stdout, stderr) = grade();
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    assert_eq!(json["total"], 10.0, "{json}");
    // 改坏评分工具用到的实验程序 lab-chat-server
    let harness = fs::read_dir(&work)
        .expect("评分目录")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("harness-"))
        })
        .expect("评分工具");
    let lab = harness.join("target/debug/lab-chat-server");
    for dir in [
        &harness,
        &harness.join("target"),
        &harness.join("target/debug"),
    ] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    fs::set_permissions(&lab, fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut bytes = fs::read(&lab).expect("读实验程序");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&lab, bytes).expect("改坏实验程序");

    let (_, stdout, stderr) = grade();
    assert!(
        stderr.contains("核对不上") && stderr.contains("重新编译"),
        "应当说明评分工具核对不上、重新编译：{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["total"], 10.0, "{json}");
    assert_eq!(json["status"], "ok", "{json}");
}

/// 评分用的目录是一个符号链接，或者属于别的用户（系统临时目录是共用的，别人可以抢先建好同名的目录，
/// 在里面放一份假的评分工具）：评分器不用它，说清楚怎么办。
#[cfg(target_os = "linux")]
#[test]
fn a_work_dir_that_is_not_ours_is_refused() {
    let scratch = Scratch::new("foreign-work");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("alice");
    fs::create_dir_all(&student).expect("作业文件夹");
    let theirs = scratch.0.join("theirs");
    fs::create_dir_all(&theirs).expect("别人的目录");
    let link = scratch.0.join("link");
    std::os::unix::fs::symlink(&theirs, &link).expect("符号链接");
    let mut refused = vec![link];
    if is_root() {
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).expect("chown");
        refused.push(theirs);
    }
    for work in refused {
        let mut command = workbook(&clone);
        command
            .args(["grade", "--no-sandbox", "--work-dir"])
            .arg(&work)
            .arg(&student);
        let (code, stdout, stderr) = run(command);
        assert_eq!(code, Some(2), "{}：{stdout}{stderr}", work.display());
        assert!(stderr.contains("不是你自己的目录"), "{stderr}");
    }
}

/// 评分器手里的东西一样也进不了沙箱：它的环境变量（编译期读 /proc/1/environ）、沙箱外的路径
/// （/proc/1/cmdline）、它从父进程继承来的文件描述符（这里是 107：一个秘密文件，108：教师的日志）、
/// 它的会话密钥环（SSH 登录时 pam_keyinit 会建一个）里的密钥。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn nothing_the_grader_holds_reaches_the_sandbox() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("belongings");
    let clone = instructor_clone(&scratch);
    let mark = marker("belongings");
    let student = scratch.0.join("mallory");
    fs::create_dir_all(&student).expect("作业文件夹");
    fs::write(
        student.join("tcp_server.rs"),
        calling(
            &reference("labs/tcp/server.rs", "mallory"),
            "mallory_probe();",
        ) + attacks::GRADERS_BELONGINGS,
    )
    .expect("写练习");
    fs::write(student.join("tcp_client.rs"), attacks::FIRST_PROCESS).expect("写练习");
    let secret_file = scratch.0.join("secret.txt");
    fs::write(&secret_file, format!("FD-SECRET-{mark}")).expect("秘密文件");
    let log_file = scratch.0.join("instructor.log");
    fs::write(&log_file, "教师的日志\n").expect("日志");
    let secret = fs::File::open(&secret_file).expect("打开秘密文件");
    let log = fs::OpenOptions::new()
        .append(true)
        .open(&log_file)
        .expect("打开日志");
    let (secret_fd, log_fd) = (secret.as_raw_fd(), log.as_raw_fd());
    let key = format!("KEY-SECRET-{mark}\0");
    let mut command = workbook(&clone);
    command
        .args(["grade", "--format", "json", "--work-dir"])
        .arg(shared_work_dir())
        .args(["--exercise", "tcp-server", "--exercise", "tcp-client"])
        .arg(&student)
        .env("MALLORY_SECRET", format!("ENV-SECRET-{mark}"));
    // SAFETY: 只调用 dup2 和 keyctl、add_key 这几个系统调用，不分配内存
    unsafe {
        command.pre_exec(move || {
            // 评分器的文件描述符 107 和 108（dup2 出来的不带 close-on-exec，评分器启动的程序都会继承）
            libc::dup2(secret_fd, 107);
            libc::dup2(log_fd, 108);
            // 评分器自己的会话密钥环，里面一个密钥
            libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>());
            libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"instructor:token".as_ptr(),
                key.as_ptr(),
                key.len() - 1,
                -3i32,
            );
            Ok(())
        });
    }
    let (_, stdout, stderr) = run(command);
    let feedback: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let feedback = feedback.to_string();
    for leak in [
        format!("ENV-SECRET-{mark}"),
        format!("FD-SECRET-{mark}"),
        format!("KEY-SECRET-{mark}"),
        shared_work_dir().to_string_lossy().to_string(),
    ] {
        assert!(
            !feedback.contains(&leak),
            "反馈里出现了 {leak}：\n{feedback}"
        );
    }
    // 攻击真的试过了：运行时说读不到、写不了，编译期读到的是沙箱里的 cargo
    for tried in [
        "FD107 读不到",
        "FD108 写不了",
        "KEYRING 里有 0 个密钥",
        "/toolchain/bin/cargo",
    ] {
        assert!(
            feedback.contains(tried),
            "反馈里应当有 {tried}：\n{feedback}"
        );
    }
    let log = fs::read_to_string(&log_file).expect("读日志");
    assert_eq!(log, "教师的日志\n", "教师的日志被写了");
    drop((secret, secret_file));
}

/// 学生的程序能写的只有一个小小的 /tmp 和 /dev/shm（各 16 MiB）：根目录、/dev、/usr/local 都是只读的。
/// 不然在只有 rlimit 的机器上，往这些内存里的文件系统写几个 GB 就能占满整台机器的内存。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn a_student_program_can_write_only_a_small_tmp() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("fill");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("mallory");
    fs::create_dir_all(&student).expect("作业文件夹");
    fs::write(
        student.join("tcp_server.rs"),
        calling(
            &reference("labs/tcp/server.rs", "mallory"),
            "mallory_fill();",
        ) + attacks::FILL_THE_DISKS,
    )
    .expect("写练习");
    let json = grade_json(&clone, &student, "tcp-server");
    let feedback = json.to_string();
    for read_only in ["/mallory", "/dev/mallory", "/usr/local/mallory"] {
        assert!(
            feedback.contains(&format!("写 {read_only}：写进 0 MiB 之后失败")),
            "{read_only} 应当写不进去：\n{feedback}"
        );
    }
    for small in ["/tmp/mallory", "/dev/shm/mallory"] {
        assert!(
            !feedback.contains(&format!("写 {small}：写满了")),
            "{small} 应当有 16 MiB 的上限：\n{feedback}"
        );
    }
}

/// 学生的代码链接了一个不存在的库：错误不指向练习文件的某一行，但换回原始的练习就编译得过，
/// 所以这是学生的编译失败（这个练习 0 分、说明原因），不是“评分出错”。
#[cfg(target_os = "linux")]
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn a_link_failure_is_the_students_compile_error() {
    let _one_at_a_time = SLOW.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("link");
    let clone = instructor_clone(&scratch);
    let student = scratch.0.join("mallory");
    fs::create_dir_all(&student).expect("作业文件夹");
    let source = reference("labs/tcp/server.rs", "mallory")
        + r#"
#[link(name = "mallory_does_not_exist")]
unsafe extern "C" {
    fn mallory_nothing();
}
#[used]
static MALLORY_KEEP: unsafe extern "C" fn() = mallory_nothing;
"#;
    fs::write(student.join("tcp_server.rs"), source).expect("写练习");
    let json = grade_json(&clone, &student, "tcp-server");
    assert_eq!(json["status"], "compile_error", "{json}");
    let detail = json["exercises"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("mallory_does_not_exist") && detail.contains("换回原始的练习就编译得过"),
        "{detail}"
    );
}
