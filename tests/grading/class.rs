//! 评一个班：造班级文件夹、运行 grade-folder（有时限）、读出成绩，找出评分结束后还活着的进程。

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 一次 grade-folder 最多等多久：一个班几个学生，评分工具已经编译好时一分钟以内；
/// 评分器被学生卡住时，测试在这之后失败，而不是一直等下去。
pub const CLASS_LIMIT: Duration = Duration::from_secs(300);

/// 一个学生交的文件：（文件名，内容）。
pub type Files = Vec<(&'static str, String)>;

/// 在 `dir` 里造一个班：每个学生一个子文件夹。
pub fn make_class(dir: &Path, students: &[(&str, Files)]) {
    for (name, files) in students {
        let folder = dir.join(name);
        fs::create_dir_all(&folder).expect("学生的文件夹");
        for (file, text) in files {
            fs::write(folder.join(file), text).expect("学生的文件");
        }
    }
}

/// 一个文件夹里每个文件的内容（相对路径 → 字节），用来证明它没被动过。
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                found.insert(relative, fs::read(&path).unwrap_or_default());
            }
        }
    }
    found
}

/// grade-folder 的结果。
pub struct ClassResult {
    pub stdout: String,
    pub stderr: String,
    pub csv: String,
    /// 学生名 → 这个学生的 JSON
    pub students: BTreeMap<String, serde_json::Value>,
}

impl ClassResult {
    pub fn student(&self, name: &str) -> &serde_json::Value {
        self.students
            .get(name)
            .unwrap_or_else(|| panic!("没有 {name} 的结果：\n{}\n{}", self.stdout, self.stderr))
    }

    /// 一个学生每个测试的结果（名字，通过没有），用来比较两个学生是不是得到了一样的评分。
    pub fn tests_of(&self, name: &str) -> Vec<(String, bool)> {
        self.student(name)["exercises"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|ex| ex["tests"].as_array().cloned().unwrap_or_default())
            .map(|t| {
                (
                    t["name"].as_str().unwrap_or_default().to_string(),
                    t["passed"] == true,
                )
            })
            .collect()
    }
}

/// 用 `--jobs 1`（按名字的顺序一个接一个）评 `class`，最多等 [`CLASS_LIMIT`]。
/// 超时就结束评分器、让测试失败（评分器被卡住，正是要证明不会发生的事）。
pub fn grade_class(command: Command, class: &Path, out: &Path, work: &Path) -> ClassResult {
    grade_class_with(command, class, out, work, &[])
}

pub fn grade_class_with(
    mut command: Command,
    class: &Path,
    out: &Path,
    work: &Path,
    extra: &[&str],
) -> ClassResult {
    command
        .arg("grade-folder")
        .arg(class)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "1", "--work-dir"])
        .arg(work)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = run_with_limit(command, CLASS_LIMIT)
        .unwrap_or_else(|partial| panic!("grade-folder 在 {CLASS_LIMIT:?} 内没有结束：{partial}"));
    let csv = fs::read_to_string(out).unwrap_or_default();
    let mut students = BTreeMap::new();
    for entry in fs::read_dir(out.with_extension(""))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(student) = name.strip_suffix(".json") {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            if let Ok(json) = serde_json::from_str(&text) {
                students.insert(student.to_string(), json);
            }
        }
    }
    ClassResult {
        stdout: output.0,
        stderr: output.1,
        csv,
        students,
    }
}

/// 运行一条命令，最多等 `limit`；超时就结束它，返回 Err（带着已有的输出）。
pub fn run_with_limit(mut command: Command, limit: Duration) -> Result<(String, String), String> {
    use std::io::Read;
    let mut child = command.spawn().expect("启动 workbook");
    let mut stdout = child.stdout.take().expect("标准输出");
    let mut stderr = child.stderr.take().expect("标准错误");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            // 读管道的线程可能被别人拿着的管道卡住：不等它们
            return Err(format!("超过了 {limit:?}，已结束"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

/// 命令行里带着 `marker` 的进程（学生的后台进程把它放在自己的参数里）。
pub fn processes_with(marker: &str) -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_string_lossy().parse().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            (text.contains(marker) && pid != std::process::id()).then_some(pid)
        })
        .collect()
}

/// 结束命令行里带着 `marker` 的进程（测试失败时收拾残局）。
pub fn kill_processes_with(marker: &str) {
    for pid in processes_with(marker) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

/// 评分结束后，学生的进程一个也不能活着。有活着的，先等它们做完（最多 `wait`），
/// 再结束它们，然后让测试失败，说清楚发生了什么。
pub fn assert_no_survivors(marker: &str, wait: Duration, what_they_did: impl Fn() -> String) {
    let alive = processes_with(marker);
    if alive.is_empty() {
        return;
    }
    let deadline = Instant::now() + wait;
    while !processes_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    kill_processes_with(marker);
    panic!(
        "评分结束后，学生的后台进程 {alive:?} 还活着（setsid 逃出了进程组），它们做了这些：\n{}",
        what_they_did()
    );
}

/// 测试结束时（包括失败时）结束命令行里带着这个标记的进程：测试在没有沙箱的评分器上
/// 失败时，学生的后台进程不能留在机器上。
pub struct KillOnDrop(pub String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill_processes_with(&self.0);
    }
}
