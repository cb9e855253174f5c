//! （维护者）造一个虚拟的班级，用来量 `grade-folder` 的速度：
//! 每个学生一个子文件夹，里面是各自的练习文件。
//!
//! 每 100 人里：30 人没动过练习，30 人做了一半，25 人全做完，5 人有一个练习编译不过，
//! 5 人有一个练习的程序卡住不动，5 人的程序在评分时改写快照（篡改）。
//! 做完的练习就是参考答案（实验本身），末尾加一行注释写上学生的名字：
//! 这样每个人的文件都不一样，评分器必须真的一个个编译，量出来的时间才老实。

use std::fs;
use std::path::Path;

use crate::exercises::{ALL, Exercise};

/// 一个学生的情况。
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Untouched,
    HalfDone,
    AllDone,
    NotCompiling,
    Hanging,
    Tampering,
}

impl Kind {
    /// 第 `i` 个学生（从 0 数）是哪一种：按 30/30/25/5/5/5 的比例轮流排开。
    fn of(i: usize) -> Kind {
        match i % 100 {
            0..30 => Kind::Untouched,
            30..60 => Kind::HalfDone,
            60..85 => Kind::AllDone,
            85..90 => Kind::NotCompiling,
            90..95 => Kind::Hanging,
            _ => Kind::Tampering,
        }
    }
}

/// 改写快照的代码：从程序自己的位置往上，在每一层和它的子目录里找快照。
const TAMPER: &str = r#"
fn tamper() {
    let mut dirs = Vec::new();
    for start in [std::env::current_exe().ok(), std::env::current_dir().ok()].into_iter().flatten() {
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            dirs.push(d.to_path_buf());
            if let Ok(entries) = std::fs::read_dir(d) {
                dirs.extend(entries.flatten().map(|e| e.path()));
            }
            dir = d.parent();
        }
    }
    for d in dirs {
        let snap = d.join("tests/snapshots/udp_client_no_reply.snap");
        // 扮演的攻击只动评分用的目录（名字里有 socket-workbook-grading）：
        // 同一台机器上别的练习册（比如系统临时目录里的另一份克隆）不能真的被它改坏
        if snap.exists() && snap.to_string_lossy().contains("socket-workbook-grading") {
            let _ = std::fs::write(&snap, "---\nsource: tests/support/mod.rs\n---\n我说了算\n");
        }
    }
}
"#;

/// 在 `dir` 里造 `students` 个学生的作业。`root` 是练习册（从里面读原始练习和参考答案）。
pub fn make_class(root: &Path, dir: &Path, students: usize) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|err| format!("无法创建 {}：{err}", dir.display()))?;
    for i in 0..students {
        let name = format!("s{:03}", i + 1);
        let folder = dir.join(&name);
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder)
            .map_err(|err| format!("无法创建 {}：{err}", folder.display()))?;
        let kind = Kind::of(i);
        for (n, ex) in ALL.iter().enumerate() {
            let source = exercise_file(root, ex, kind, n, i, &name)?;
            let file = folder.join(Path::new(ex.stub).file_name().unwrap_or_default());
            fs::write(&file, source).map_err(|err| format!("写不了 {}：{err}", file.display()))?;
        }
    }
    Ok(())
}

/// 第 `student` 个学生的第 `n` 个练习文件。
fn exercise_file(
    root: &Path,
    ex: &Exercise,
    kind: Kind,
    n: usize,
    student: usize,
    name: &str,
) -> Result<String, String> {
    let read = |path: &str| {
        fs::read_to_string(root.join(path)).map_err(|err| format!("读不了 {path}：{err}"))
    };
    // 有问题的那一个练习：按学生轮流选，只选程序（不是模块）
    let special = ["tcp-server", "udp-server", "udp-client", "chat-client"][student % 4];
    let done = match kind {
        Kind::Untouched => false,
        Kind::HalfDone => (n + student).is_multiple_of(2),
        _ => true,
    };
    if !done {
        return read(ex.stub);
    }
    let mut source = read(ex.lab)?;
    if ex.name == special || (kind == Kind::Tampering && ex.name == "udp-client") {
        match kind {
            Kind::NotCompiling => source.push_str("\nfn unfinished( {\n"),
            Kind::Hanging => {
                source = source.replacen(
                    "let args = Args::parse();",
                    "let args = Args::parse();\n    std::thread::sleep(std::time::Duration::from_secs(3600));",
                    1,
                );
            }
            Kind::Tampering if ex.name == "udp-client" => {
                source = source.replacen(
                    "let args = Args::parse();",
                    "let args = Args::parse();\n    tamper();",
                    1,
                );
                source.push_str(TAMPER);
            }
            _ => {}
        }
    }
    source.push_str(&format!("\n// {name} 的作业\n"));
    Ok(source)
}
