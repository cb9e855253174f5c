//! 评分器经得起作弊吗？这里的每个测试都扮演一个想多拿分的学生（或者一个粗心的教师），
//! 证明评分器不上当：
//!
//! - 教师自己做过练习，再评一份空作业：不能拿教师的文件给学生算分；
//! - 学生在自己的仓库里改测试、改快照、重新生成清单：评分用的规格不受影响；
//! - 学生的程序在评分时改写快照、换掉测试程序、冒充测试结果：记为篡改，0 分，
//!   教师自己的练习册原封不动；
//! - 练习文件是指向参考答案的符号链接：记为篡改；
//! - cargo 启动不了：说清楚是 cargo 启动不了，而不是“编译超时”。
//!
//! 需要编译、运行学生程序的测试比较慢（第一次要在评分目录里编译全部依赖，约两分钟），
//! 默认不运行：`cargo test --test grading -- --ignored`（CI 会运行它们）。
//!
//! 评分只在 Unix（Linux、macOS）上进行（见 labs/workbook/main.rs 的 `grading_supported`），
//! 所以要评分的测试（以及用 sh 脚本扮演 cargo 的测试）都标着 `#[cfg(unix)]`；Windows 上评分命令
//! 拒绝运行，由 tests/grading_windows.rs 检查。`workbook check` 在每种系统上都能用，它的测试不标。
// 在 Windows 上，只给 Unix 测试用的辅助函数用不到
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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
        .arg(scratch.0.join("work"));
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
    let json = fs::read_to_string(scratch.0.join("scores/alice.json")).expect("alice.json");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["student"], "alice");
    assert_eq!(json["status"], "empty");
    assert_eq!(json["total"], 0.0);
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
        .args(["grade", "--format", "json", "--work-dir"])
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
        .args(["grade", "--format", "json", "--work-dir"])
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
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
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

/// 学生的程序在评分时改写快照：记为篡改、0 分；教师的练习册一个字节也没变。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_rewrites_a_snapshot_is_caught() {
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

/// 学生的程序在评分时把测试程序换成自己（下一个学生就会用到一个假的测试程序）：
/// 记为篡改；下一个学生照常评分，评分器会发现测试程序被换掉，重新编译。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_replaces_the_test_program_is_caught() {
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
    let json = grade_json(&clone, &mallory, "tcp-server");
    assert_eq!(json["status"], "tampered", "{json}");
    assert_eq!(json["total"], 0.0);

    // 下一个学生交的是参考答案：照常满分
    let honest = scratch.0.join("honest");
    fs::create_dir_all(&honest).expect("作业文件夹");
    fs::copy(
        repo().join("labs/tcp/server.rs"),
        honest.join("tcp_server.rs"),
    )
    .expect("写练习");
    let json = grade_json(&clone, &honest, "tcp-server");
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["total"], 10.0, "{json}");
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

/// 改了一句话的 UDP 客户端：7 个测试过 4 个，得 5.7 分而不是 0 分；最先给出的是和书中记录的对照，
/// 中文的逐行对照，没有 Rust 的 panic 位置、left/right、insta 的英文报告。
/// 编译不过的练习：rustc 的原话一个字不改（行号栏和 ^ 标记对得上）。
#[cfg(unix)] // 要评分（或者用 sh 脚本扮演 cargo），只在 Unix 上进行
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
    assert_eq!(udp["points"], 5.71, "7 个测试过 4 个：10 × 4/7");
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
    assert!((score - 10.0 * 4.0 / 7.0).abs() < 1e-9, "得分 {score}");
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
        .args(["grade", "--format", "json", "--work-dir"])
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
/// 还夹着一个不是 UTF-8 的字节，想让评分工具读到一半就停下：记为篡改，0 分。
#[cfg(target_os = "linux")] // /proc/PID/fd 是 Linux 的
#[test]
#[ignore = "要编译：cargo test --test grading -- --ignored"]
fn program_that_writes_fake_results_is_caught() {
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
    assert_eq!(json["status"], "tampered", "{json}");
    assert_eq!(json["total"], 0.0);
}

/// 练习 5.1 的两种偷懒：每个地址只等 50 毫秒（不管 --connect-timeout 说了多少），
/// 或者全都失败时报告第一个地址的错误而不是最后一个。两种都不能拿满分，丢的正是检查这件事的测试。
#[cfg(unix)]
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
#[cfg(unix)]
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
#[cfg(unix)]
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
