//! （维护者）造一个虚拟的班级，用来量 `grade-folder` 的速度：
//! 每个学生一个子文件夹，里面是各自的练习文件；旁边的 `<文件夹>.expected.csv` 写着每个人应得的
//! 状态和总分，`.ci/bench-grading` 评完之后逐行核对，对不上就失败。
//!
//! 每 100 人里：30 人没动过练习，30 人做了一半，25 人全做完，5 人有一个练习编译不过，
//! 5 人有一个练习的程序卡住不动，5 人是存心捣乱的学生：全做完了，练习 2.1 的程序里另外带着
//! tests/grading.rs 扮演过的一种攻击（换掉测试程序、评分器退出后改成绩表、偷拿和陷害同学、
//! 让下一个学生被假的测试程序评分、拿着测试程序的管道不放），见 attacks.rs。沙箱里这些攻击都落空，
//! 所以他们和全做完的学生一样是满分；攻击得手的话，成绩表对不上（或者评分卡住），基准就失败。
//! 做完的练习就是参考答案（实验本身），末尾加一行注释写上学生的名字：
//! 这样每个人的文件都不一样，评分器必须真的一个个编译，量出来的时间才老实。

use std::fs;
use std::path::Path;

use crate::attacks;
use crate::exercises::{ALL, Exercise};

/// 攻击者的后台进程命令行里带着的词：基准评完之后据此确认它们一个也没活下来。
pub const MARKER: &str = "socket-workbook-bench-attacker";

/// 一个学生的情况。
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Untouched,
    HalfDone,
    AllDone,
    NotCompiling,
    Hanging,
    /// 第几种攻击（0 到 4）
    Attacking(usize),
}

impl Kind {
    /// `students` 人里的第 `i` 个学生（从 0 数）是哪一种：按 30/30/25/5/5/5 的比例排开
    /// （100 人时正好是这些人数，人少时按比例挑）。`honest` 时没有攻击者（那 5% 也是全做完的）。
    fn of(i: usize, students: usize, honest: bool) -> Kind {
        match (i * 100 / students.max(1)) % 100 {
            0..30 => Kind::Untouched,
            30..60 => Kind::HalfDone,
            60..85 => Kind::AllDone,
            85..90 => Kind::NotCompiling,
            90..95 => Kind::Hanging,
            _ if honest => Kind::AllDone,
            n => Kind::Attacking(n - 95),
        }
    }
}

/// 在 `dir` 里造 `students` 个学生的作业，在 `<dir>.expected.csv` 里写下每个人应得的状态和总分。
/// `root` 是练习册（从里面读原始练习和参考答案）。
pub fn make_class(root: &Path, dir: &Path, students: usize, honest: bool) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|err| format!("无法创建 {}：{err}", dir.display()))?;
    let names: Vec<String> = (0..students).map(|i| format!("s{:03}", i + 1)).collect();
    let mut expected = String::from("学生,状态,总分\n");
    for (i, name) in names.iter().enumerate() {
        let folder = dir.join(name);
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder)
            .map_err(|err| format!("无法创建 {}：{err}", folder.display()))?;
        let kind = Kind::of(i, students, honest);
        let mut total = 0;
        for (n, ex) in ALL.iter().enumerate() {
            let (source, earns) = exercise_file(root, dir, ex, kind, n, i, &names)?;
            total += earns;
            let file = folder.join(Path::new(ex.stub).file_name().unwrap_or_default());
            fs::write(&file, source).map_err(|err| format!("写不了 {}：{err}", file.display()))?;
        }
        let status = match kind {
            Kind::Untouched => "空作业",
            Kind::NotCompiling => "编译失败",
            _ => "正常",
        };
        expected.push_str(&format!("{name},{status},{total}\n"));
    }
    let file = dir.with_extension("expected.csv");
    fs::write(&file, expected).map_err(|err| format!("写不了 {}：{err}", file.display()))
}

/// 第 `student` 个学生的第 `n` 个练习文件，和它应得的分数。
fn exercise_file(
    root: &Path,
    class: &Path,
    ex: &Exercise,
    kind: Kind,
    n: usize,
    student: usize,
    names: &[String],
) -> Result<(String, u32), String> {
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
        return Ok((read(ex.stub)?, 0));
    }
    let name = &names[student];
    let mut source = read(ex.lab)?;
    let mut earns = ex.points;
    match kind {
        Kind::NotCompiling if ex.name == special => {
            source.push_str("\nfn unfinished( {\n");
            earns = 0;
        }
        Kind::Hanging if ex.name == special => {
            source = inserted(
                &source,
                ex,
                "Args::parse();",
                "\n    std::thread::sleep(std::time::Duration::from_secs(3600));",
            )?;
            earns = 0;
        }
        Kind::Attacking(which) if ex.name == "tcp-server" => {
            source = attack(source, which, class, student, names)?;
        }
        _ => {}
    }
    source.push_str(&format!("\n// {name} 的作业\n"));
    Ok((source, earns))
}

/// 在 `source` 里第一处 `after` 的后面插入 `text`；找不到 `after` 就报错（免得造出一个和说好的不一样的学生）。
fn inserted(source: &str, ex: &Exercise, after: &str, text: &str) -> Result<String, String> {
    let at = source
        .find(after)
        .ok_or_else(|| format!("{} 里找不到 {after}：虚拟班级造不出这种学生", ex.lab))?;
    let end = at + after.len();
    Ok(format!("{}{text}{}", &source[..end], &source[end..]))
}

/// 练习 2.1 的参考答案加上第 `which` 种攻击。受害的同学是排在攻击者后面的几个人
/// （grade-folder 按名字的顺序评，攻击要在他们被评之前、之时动手）。
fn attack(
    source: String,
    which: usize,
    class: &Path,
    student: usize,
    names: &[String],
) -> Result<String, String> {
    let later = |k: usize| names[(student + k) % names.len()].as_str();
    let (code, call) = match which {
        0 => {
            let fake = attacks::fake_test_program(&[], Some(("@BACKUP@", "@ORIGINAL@")));
            (attacks::replace_test_program(&fake), None)
        }
        1 => (attacks::forge_results(&names[student], later(1)), None),
        2 => (attacks::rob_and_frame(later(1), later(2), later(3)), None),
        3 => {
            let table: Vec<(String, Vec<String>)> = ALL
                .iter()
                .map(|ex| {
                    let prefix = ex.test_prefix();
                    let tests = ex
                        .tests
                        .iter()
                        .map(|(name, _)| format!("{prefix}{name}"))
                        .collect();
                    (prefix, tests)
                })
                .collect();
            let fake = attacks::fake_test_program(&table, None);
            (
                attacks::poison_the_next_build(&fake),
                Some("mallory_poison();"),
            )
        }
        _ => (attacks::HOLD_THE_PIPES.to_string(), None),
    };
    let guard = class.parent().unwrap_or(class);
    let start = match call {
        Some(call) => format!("{call}\n    "),
        None => String::new(),
    };
    let main = "let args = Args::parse();";
    if !source.contains(main) {
        return Err(format!(
            "练习 2.1 的实验里找不到 {main}：虚拟班级造不出攻击者"
        ));
    }
    Ok(source.replacen(
        main,
        &format!(
            "{start}if mallory_start(mallory_daemon) {{\n        return ExitCode::SUCCESS;\n    }}\n    {main}"
        ),
        1,
    ) + &attacks::toolkit(MARKER, &[guard])
        + &code)
}
