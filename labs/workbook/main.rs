//! # 练习册工具 `workbook`
//!
//! 给学生：`list` 看进度，`check` 检查一个练习并解释第一个失败，`hint` 看提示，
//! `watch` 在保存文件时自动重新检查。
//! 给教师：`grade` 给全部练习打分（表格、JSON 或 JUnit），`grade-folder` 把一个文件夹里
//! 所有学生的作业评成一张 CSV。
//! 评分时学生写的代码只在沙箱里编译和运行（sandbox.rs），评分工具事先编译好（harness.rs）；
//! `prepare` 只做这一步（GitHub Classroom 在评分之前单独运行它）。
//! 给维护者：`stubs`、`classroom` 由实验生成或核对练习文件和 GitHub Classroom 的工作流；
//! `selftest` 证明评分器是诚实的：没动过的练习一分不得，参考答案满分，
//! 打印假测试结果的作弊练习一个测试也通不过；`synthetic-class` 造一个虚拟的班级，量评分的速度。
//!
//! 运行：`cargo run --bin workbook -- list`

mod attacks;
mod cheat;
mod classroom;
mod exercises;
mod grade;
mod harness;
mod limits;
mod report;
mod runner;
mod sandbox;
mod stubs;
mod synthetic;
mod tree;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use exercises::{ALL, Exercise};
use grade::{Graded, Isolation, Mode, Slot, Status, Submission, sha256_hex};
use runner::{Job, Outcome, Place, Progress, State};
use sandbox::Sandbox;
use tree::Tree;

/// Socket 编程练习册的练习工具
#[derive(Parser)]
#[command(name = "workbook", version)]
struct Args {
    /// 练习册仓库的根目录（评分时，规格取自它的 git 提交）
    #[arg(long, global = true, default_value = env!("CARGO_MANIFEST_DIR"))]
    root: PathBuf,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// 列出全部练习和各自的状态
    List,
    /// 检查一个练习（不写名字就检查第一个还没通过的），并解释第一个失败
    Check { name: Option<String> },
    /// 显示一个练习的提示
    Hint { name: String },
    /// 保存文件时自动重新检查当前练习（Ctrl-C 退出）
    Watch,
    /// 给一份作业评分：规格取自练习册的 git 提交，只用作业里的练习文件；不是全部通过时退出码非零
    Grade {
        /// 作业所在的文件夹（学生的仓库，或者直接放着练习文件的文件夹）；默认是练习册自己的工作目录
        submission: Option<PathBuf>,
        /// 只评这几个练习（名字或编号，可以写多次）
        #[arg(long = "exercise", value_name = "练习")]
        exercises: Vec<String>,
        #[command(flatten)]
        grading: GradingArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// 评一个文件夹里所有学生的作业（每个学生一个子文件夹），结果写成一张 CSV
    GradeFolder {
        /// 放学生作业的文件夹
        dir: PathBuf,
        /// CSV 文件；每个学生的详细结果写进同名文件夹里的 <学生>.json
        #[arg(long, default_value = "scores.csv")]
        out: PathBuf,
        /// 同时评几个学生（每个一份练习册副本）
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
        /// CSV 不加 UTF-8 的 BOM（默认加上，这样中文版 Excel 直接打开也不乱码）
        #[arg(long)]
        no_bom: bool,
        #[command(flatten)]
        grading: GradingArgs,
    },
    /// 准备评分：检查沙箱能不能用，编译好规格的评分工具（之后的 grade、grade-folder 直接用它）
    Prepare {
        #[command(flatten)]
        grading: GradingArgs,
    },
    /// （维护者）由实验文件重新生成练习文件；--check 只核对、不写入
    Stubs {
        #[arg(long)]
        check: bool,
    },
    /// （维护者）生成 GitHub Classroom 的自动评分配置；--check 只核对、不写入
    Classroom {
        #[arg(long)]
        check: bool,
    },
    /// （维护者）造一个虚拟的班级（每个学生一个子文件夹），用 grade-folder 量评分的速度；
    /// 每个人应得的状态和总分写在 <文件夹>.expected.csv
    SyntheticClass {
        /// 放作业的文件夹
        dir: PathBuf,
        /// 学生人数：每 100 人里 30 人没动、30 人做了一半、25 人全做完，
        /// 编译不过、程序卡住、存心攻击评分器的各 5 人
        #[arg(long, default_value_t = 100)]
        students: usize,
        /// 不要攻击评分器的学生（那 5 人也全做完）：和 --no-sandbox 的评分比速度时用
        #[arg(long)]
        honest: bool,
    },
    /// （维护者）证明评分器诚实：没动过的练习全部不通过、得 0 分，换上参考答案后全部通过、得满分
    Selftest {
        /// 不用沙箱（风险自负，见 grade --help）
        #[arg(long)]
        no_sandbox: bool,
    },
}

/// 评分的共同参数。
#[derive(clap::Args)]
struct GradingArgs {
    /// 规格（测试、快照、评分工具、原始练习）取自练习册的哪个 git 提交：分支、标签或提交号
    #[arg(long, default_value = "HEAD", value_name = "提交")]
    spec_ref: String,
    /// 放评分工具和编译产物的目录（默认在系统的临时目录里，不在练习册里面）
    #[arg(long, value_name = "目录")]
    work_dir: Option<PathBuf>,
    /// 不用沙箱，直接在这台机器上运行学生的程序（风险自负：它能读写评分器能读写的一切；
    /// 成绩表的每一行都标上“未隔离”）。只在建不了沙箱、又确实要在这里评分时用
    #[arg(long)]
    no_sandbox: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Junit,
    /// GitHub Classroom：标准输出一行 result=<base64>，说明写到标准错误
    Classroom,
}

fn default_jobs() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let root = args.root.as_path();
    let result = match args.command {
        Cmd::List => list(root),
        Cmd::Check { name } => check(root, name.as_deref()),
        Cmd::Hint { name } => hint(&name),
        Cmd::Watch => watch(root),
        Cmd::Grade {
            submission,
            exercises,
            grading,
            format,
        } => grade_one(root, submission.as_deref(), &exercises, &grading, format),
        Cmd::GradeFolder {
            dir,
            out,
            jobs,
            no_bom,
            grading,
        } => grade_folder(root, &dir, &out, jobs.max(1), !no_bom, &grading),
        Cmd::Prepare { grading } => prepare(root, &grading),
        Cmd::Stubs { check } => sync_stubs(root, check),
        Cmd::Classroom { check } => sync_classroom(root, check),
        Cmd::SyntheticClass {
            dir,
            students,
            honest,
        } => synthetic::make_class(root, &dir, students, honest).map(|()| {
            println!("已在 {} 造好 {students} 份作业", dir.display());
            ExitCode::SUCCESS
        }),
        Cmd::Selftest { no_sandbox } => selftest(root, no_sandbox),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

/// 评分怎样进行：默认在沙箱里（建不了就说明原因、不评分）；教师加了 `--no-sandbox` 才直接运行。
///
/// 没有沙箱时，评分结束要结束学生的程序启动的每个进程，这靠 Unix 的进程组（runner.rs 的
/// `kill_leftovers`）；Windows 上没有这一套，所以 Windows 上连 `--no-sandbox` 也不评分，
/// 请在 WSL2 里运行。学生自己检查练习（check、watch）不受影响，在哪种系统上都照常工作。
fn grading_mode(work: &Path, no_sandbox: bool) -> Result<Mode, String> {
    private_work_dir(work)?;
    if no_sandbox {
        if !cfg!(unix) {
            return Err(
                "在 Windows 上不能评分：没有沙箱，也没有办法在评分结束时结束学生的程序留下的进程。\
                 请在 WSL2 里运行同样的命令（那是一台 Linux，有沙箱）；\
                 学生自己检查练习用 check 和 watch，它们在 Windows 上照常工作"
                    .to_string(),
            );
        }
        eprintln!(
            "注意：--no-sandbox，学生的程序直接在这台机器上运行，能读写评分器能读写的一切；\
             成绩表的每一行都标上“未隔离”"
        );
        return Ok(Mode::Unprotected);
    }
    let sandbox = Sandbox::detect(&work.join("sandbox"))?;
    eprintln!("沙箱：{}", sandbox.describe());
    // 评分工具在第一次要用时才编译（一个班全是空作业就不用编译）
    Ok(Mode::Sandboxed(Box::new(Isolation::new(sandbox, work))))
}

fn find(name: &str) -> Result<&'static Exercise, String> {
    exercises::find(name).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|ex| ex.name).collect();
        format!("没有叫 {name} 的练习。可用的练习：{}", names.join("、"))
    })
}

// ---------------------------------------------------------------- 给学生

/// 上次检查的结果，存在 target/workbook/status：每行 `名字 状态 检查的那份练习文件的哈希`。
fn status_file(root: &Path) -> PathBuf {
    root.join("target/workbook/status")
}

/// 练习文件此刻内容的哈希。
fn stub_hash(root: &Path, ex: &Exercise) -> String {
    sha256_hex(&fs::read(root.join(ex.stub)).unwrap_or_default())
}

fn load_status(root: &Path) -> HashMap<String, (String, String)> {
    let text = fs::read_to_string(status_file(root)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            Some((
                parts.next()?.to_string(),
                (parts.next()?.to_string(), parts.next()?.to_string()),
            ))
        })
        .collect()
}

/// 记下一次检查的结果。`checked_hash` 是检查开始时读到的那份练习文件的哈希：
/// 缓存里的结果永远和它被检查的那份文件配对。
fn save_status(root: &Path, ex: &Exercise, state: State, checked_hash: &str) {
    let mut status = load_status(root);
    status.insert(
        ex.name.to_string(),
        (state.key().to_string(), checked_hash.to_string()),
    );
    let text: String = ALL
        .iter()
        .filter_map(|ex| {
            status
                .get(ex.name)
                .map(|(state, hash)| format!("{} {state} {hash}\n", ex.name))
        })
        .collect();
    let file = status_file(root);
    if let Some(dir) = file.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let _ = fs::write(file, text);
}

/// 一个练习现在的状态：上次检查之后练习文件没改过，就沿用上次的结果。
fn known_state(
    root: &Path,
    ex: &Exercise,
    status: &HashMap<String, (String, String)>,
) -> &'static str {
    let edited = !fs::read_to_string(root.join(ex.stub))
        .unwrap_or_default()
        .contains(&ex.todo_marker());
    match status.get(ex.name) {
        Some((state, hash)) if *hash == stub_hash(root, ex) => match state.as_str() {
            "passed" => State::Passed.label(),
            "not_started" => State::NotStarted.label(),
            "compile_error" => State::CompileError.label(),
            "timed_out" => State::TimedOut.label(),
            _ => State::Failed.label(),
        },
        _ if edited => "已修改，待检查",
        _ => State::NotStarted.label(),
    }
}

fn list(root: &Path) -> Result<ExitCode, String> {
    let status = load_status(root);
    let mut passed = 0;
    println!("练习   名字            状态            要编辑的文件");
    for ex in ALL {
        let state = known_state(root, ex, &status);
        if state == State::Passed.label() {
            passed += 1;
        }
        println!(
            "{:<6} {:<15} {}{}",
            ex.id,
            ex.name,
            report::pad(state, 16),
            ex.stub
        );
    }
    println!("\n进度 {}", report::progress_bar(passed, ALL.len()));
    println!("检查下一个练习：cargo run --bin workbook -- check");
    Ok(ExitCode::SUCCESS)
}

/// 第一个还没通过的练习（按上次检查的结果）。
fn next_unfinished(root: &Path) -> Option<&'static Exercise> {
    let status = load_status(root);
    ALL.iter()
        .find(|ex| known_state(root, ex, &status) != State::Passed.label())
}

/// 练习文件是否还是原始的样子（和由实验生成的练习一字不差）：那就不必编译、测试了。
fn untouched(root: &Path, ex: &Exercise) -> bool {
    let Ok(lab) = fs::read_to_string(root.join(ex.lab)) else {
        return false;
    };
    let current = fs::read(root.join(ex.stub)).unwrap_or_default();
    stubs::make_stub(ex, &lab).is_ok_and(|stub| stub.as_bytes() == current)
}

/// 在终端里一行一行地显示检查的进展：在编译什么、每个测试的结果。
fn print_progress(progress: Progress) {
    match progress {
        Progress::Building(names) => println!("编译 {}……", names.join("、")),
        Progress::Running(count) => println!("运行 {count} 个测试（同时进行）："),
        Progress::Retrying(count) => println!("没通过的 {count} 个测试单独再跑一次："),
        Progress::TestDone { title, passed } => {
            println!("  {} {title}", if passed { "✓" } else { "✗" })
        }
    }
}

/// 学生的程序运行时的工作目录：系统临时目录里的一个空目录，不在练习册里面。
fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("socket-workbook-scratch-{}", std::process::id()))
}

/// 在学生自己的练习册里检查一个练习（不复制，编译产物就用 target/，所以很快）。
/// 返回结果，以及检查期间练习文件有没有被再次保存。
fn check_in_place(root: &Path, ex: &'static Exercise) -> Result<(Outcome, bool), String> {
    let before = stub_hash(root, ex);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let scratch = scratch_dir();
    let _ = fs::create_dir_all(&scratch);
    let job = Job {
        exercises: vec![(ex, untouched(root, ex))],
        progress: &print_progress,
        place: Place::Local {
            root,
            target_dir: &target,
            scratch: &scratch,
            lean: false,
        },
    };
    let built = runner::build(&job)?;
    let outcome = runner::test(&job, &built).pop().ok_or("没有检查结果")?;
    let _ = fs::remove_dir_all(&scratch);
    let saved_meanwhile = stub_hash(root, ex) != before;
    if !saved_meanwhile {
        save_status(root, ex, outcome.state, &before);
    }
    Ok((outcome, saved_meanwhile))
}

fn check(root: &Path, name: Option<&str>) -> Result<ExitCode, String> {
    let ex = match name {
        Some(name) => find(name)?,
        None => match next_unfinished(root) {
            Some(ex) => ex,
            None => {
                println!("全部练习都已通过，恭喜！用 cargo run --bin workbook -- grade 看看总分。");
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    println!("正在检查练习 {}：{}（{}）", ex.id, ex.title, ex.stub);
    let (outcome, saved_meanwhile) = check_in_place(root, ex)?;
    print!("{}", explain(&outcome));
    if saved_meanwhile {
        println!(
            "\n（检查期间 {} 又被保存过：上面的结果是保存之前的版本，请再检查一次）",
            ex.stub
        );
    }
    Ok(if outcome.state == State::Passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// 给学生看的检查结果。
fn explain(outcome: &Outcome) -> String {
    let ex = outcome.exercise;
    let mut text = format!(
        "\n练习 {}：{}，{}/{} 个测试通过，得分 {}/{}\n",
        ex.id,
        outcome.state.label(),
        outcome.passed_tests(),
        outcome.tests.len(),
        report::points(outcome.points()),
        ex.points
    );
    for t in &outcome.tests {
        text.push_str(&format!(
            "  {} {}\n",
            if t.passed { "✓" } else { "✗" },
            t.title
        ));
    }
    match outcome.state {
        State::Passed => {
            text.push_str(&format!(
                "\n做得好！练习 {} 完成。下一个：cargo run --bin workbook -- check\n",
                ex.id
            ));
            return text;
        }
        State::CompileError => {
            // rustc 的原话，一个字也不改：行号栏和 ^ 标记要对得上
            text.push_str(&format!("\n编译器说：\n{}\n", outcome.detail));
        }
        State::NotStarted if outcome.passed_tests() == 0 => {
            text.push_str(&format!(
                "\n尚未完成：{} 里还留着 {}。\n\n提示：\n{}\n",
                ex.stub,
                ex.todo_marker(),
                indent(ex.hint)
            ));
        }
        _ => {
            if let Some(first) = outcome.first_failure() {
                text.push_str(&format!("\n先看这个没通过的测试：{}\n", first.title));
            }
            text.push_str(&format!("{}\n", indent(&outcome.detail)));
        }
    }
    text.push_str(&format!(
        "\n请重读：{}（book/{}）。看提示：cargo run --bin workbook -- hint {}\n",
        ex.section, ex.book, ex.name
    ));
    text
}

/// 每行前面加四个空格（只加不减：行与行之间的对齐保持原样）。
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn hint(name: &str) -> Result<ExitCode, String> {
    let ex = find(name)?;
    println!("练习 {}：{}\n", ex.id, ex.title);
    println!("要编辑的文件：{}", ex.stub);
    match ex.target {
        exercises::Target::Program { .. } => println!("运行你的版本：{}", ex.run_command()),
        exercises::Target::Module { .. } => {
            println!("运行你的版本：它是一个模块，没有自己的 main，用下面的检查命令运行它的测试")
        }
    }
    println!("检查：cargo run --bin workbook -- check {}\n", ex.name);
    println!("提示：\n{}\n", indent(ex.hint));
    println!(
        "书中对应的小节：{}（book/{}）；参考实现就是书里讲的那个实验。",
        ex.section, ex.book
    );
    Ok(ExitCode::SUCCESS)
}

/// 全部练习文件此刻内容的哈希（watch 用它发现保存：比修改时间可靠）。
fn all_hashes(root: &Path) -> Vec<String> {
    ALL.iter().map(|ex| stub_hash(root, ex)).collect()
}

fn watch(root: &Path) -> Result<ExitCode, String> {
    loop {
        let Some(ex) = next_unfinished(root) else {
            println!("全部练习都已通过，恭喜！");
            return Ok(ExitCode::SUCCESS);
        };
        println!("\n==== 练习 {}：{}（编辑 {}）", ex.id, ex.title, ex.stub);
        // 检查开始之前的样子：之后（检查期间、打印结果时）的任何一次保存都会触发下一次检查
        let before = all_hashes(root);
        let (outcome, saved_meanwhile) = check_in_place(root, ex)?;
        print!("{}", explain(&outcome));
        if saved_meanwhile {
            println!("\n检查期间文件又被保存过，马上再检查一次……");
            continue;
        }
        if outcome.state == State::Passed {
            continue; // 直接进入下一个练习
        }
        println!("\n保存练习文件后会自动重新检查；按 Ctrl-C 退出。");
        wait_for_save(root, &before);
    }
}

/// 等到有练习文件的内容和 `seen` 不同（每半秒看一次）。
fn wait_for_save(root: &Path, seen: &[String]) {
    while all_hashes(root) == seen {
        thread::sleep(Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------- 给教师

/// 评分副本放在哪里：默认在系统的临时目录里，按练习册的位置区分。
/// 不放在练习册里面：学生的程序从自己的位置往上找，找不到教师的练习册。
fn work_dir(root: &Path, grading: &GradingArgs) -> PathBuf {
    grading.work_dir.clone().unwrap_or_else(|| {
        let key = sha256_hex(root.to_string_lossy().as_bytes());
        std::env::temp_dir().join(format!("socket-workbook-grading-{}", &key[..12]))
    })
}

/// 评分用的目录只能属于运行评分的这个用户、别人不能写：默认的位置在系统的临时目录里，
/// 那里大家都能建目录，别人可以抢先建好同名的目录，在里面放一份假的评分工具。
fn private_work_dir(work: &Path) -> Result<(), String> {
    fs::create_dir_all(work).map_err(|err| format!("无法创建 {}：{err}", work.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = fs::symlink_metadata(work)
            .map_err(|err| format!("读不了 {}：{err}", work.display()))?;
        // SAFETY: geteuid 没有副作用
        let me = unsafe { libc::geteuid() };
        if meta.file_type().is_symlink() || !meta.is_dir() || meta.uid() != me {
            return Err(format!(
                "评分用的目录 {} 不是你自己的目录（它是别的用户的，或者是一个符号链接）：\
                 里面的东西不可信。请删掉它，或者用 --work-dir 换一个只有你能写的目录",
                work.display()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            fs::set_permissions(work, fs::Permissions::from_mode(0o700))
                .map_err(|err| format!("无法设置 {} 的权限：{err}", work.display()))?;
        }
    }
    Ok(())
}

fn load_spec(root: &Path, grading: &GradingArgs) -> Result<Tree, String> {
    Tree::from_git(root, &grading.spec_ref)
}

fn grade_one(
    root: &Path,
    submission: Option<&Path>,
    names: &[String],
    grading: &GradingArgs,
    format: Format,
) -> Result<ExitCode, String> {
    let wanted: Vec<&'static Exercise> = names.iter().map(|n| find(n)).collect::<Result<_, _>>()?;
    // 按练习清单的顺序，不管命令行里写的顺序
    let exercises: Vec<&'static Exercise> = ALL
        .iter()
        .filter(|ex| wanted.is_empty() || wanted.iter().any(|w| w.id == ex.id))
        .collect();
    let folder = submission.unwrap_or(root);
    let name = fs::canonicalize(folder)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| folder.display().to_string());
    let quiet = |_: Progress| {};
    let loud = |p: Progress| eprint_progress(p);
    let progress: &(dyn Fn(Progress) + Sync) = match format {
        Format::Table => &loud,
        _ => &quiet,
    };
    let graded = (|| {
        // 先看能不能建沙箱：建不了就不必读规格、读作业
        let work = work_dir(root, grading);
        let mode = grading_mode(&work, grading.no_sandbox)?;
        let tree = load_spec(root, grading)?;
        if !folder.is_dir() {
            return Err(format!("找不到作业文件夹 {}", folder.display()));
        }
        // 作业在任何学生的代码运行之前就读进内存
        let submission = Submission::from_folder(&name, folder);
        let mut slot = Slot::acquire(&work)?;
        eprintln!("规格：{}；作业：{}", tree.source, folder.display());
        let graded =
            grade::grade_or_report(&tree, &mode, &submission, &exercises, &mut slot, progress);
        Ok((graded, tree.source))
    })();
    let (graded, source) = match graded {
        Ok(done) => done,
        // GitHub Classroom：评不了也要交一个结果（0 分，写明原因），汇总报告才不会丢掉别的练习的分
        Err(why) if matches!(format, Format::Classroom) => {
            eprintln!("{why}");
            let failed = grade::failed(&name, &exercises, &why);
            println!("result={}", report::classroom(&failed));
            return Ok(ExitCode::SUCCESS);
        }
        Err(why) => return Err(why),
    };
    if graded.status == Status::Error && !matches!(format, Format::Classroom) {
        return Err(graded.note);
    }
    match format {
        Format::Table => {
            for outcome in graded.outcomes.iter().filter(|o| o.state != State::Passed) {
                eprint!("{}", explain(outcome));
            }
            print!("{}", report::table(&graded));
        }
        Format::Json => println!("{}", report::json(&graded, &source)),
        Format::Junit => print!("{}", report::junit(&graded)),
        Format::Classroom => {
            let explained: String = graded.outcomes.iter().map(explain).collect();
            eprint!("{}", report::without_workflow_commands(&explained));
            println!("result={}", report::classroom(&graded));
            return Ok(ExitCode::SUCCESS);
        }
    }
    Ok(match graded.status {
        Status::Tampered => ExitCode::from(3),
        _ if graded.outcomes.iter().all(|o| o.state == State::Passed) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

fn eprint_progress(progress: Progress) {
    match progress {
        Progress::Building(names) => eprintln!("编译 {}……", names.join("、")),
        Progress::Running(count) => eprintln!("运行 {count} 个测试……"),
        Progress::Retrying(count) => eprintln!("没通过的 {count} 个测试单独再跑一次……"),
        Progress::TestDone { .. } => {}
    }
}

fn grade_folder(
    root: &Path,
    dir: &Path,
    out: &Path,
    jobs: usize,
    bom: bool,
    grading: &GradingArgs,
) -> Result<ExitCode, String> {
    let work = work_dir(root, grading);
    let mode = grading_mode(&work, grading.no_sandbox)?;
    let tree = load_spec(root, grading)?;
    let mut students: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .map_err(|err| format!("读不了 {}：{err}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            (name, path)
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    students.sort();
    // 文件夹名不是合法 UTF-8 时，两个不同的名字可能显示成同一个（都带 �）：加上编号区分，
    // 免得 CSV 里出现两行同名、一个人的 JSON 盖掉另一个人的
    let mut seen = std::collections::HashMap::new();
    for (name, _) in &mut students {
        let count = seen.entry(name.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            *name = format!("{name}（{count}）");
        }
    }
    if students.is_empty() {
        return Err(format!("{} 里没有学生的子文件夹", dir.display()));
    }
    let json_dir = out.with_extension("");
    fs::create_dir_all(&json_dir)
        .map_err(|err| format!("无法创建 {}：{err}", json_dir.display()))?;
    // 全班的作业在任何学生的代码运行之前读进内存：之后谁也改不了别人交的东西
    let submissions: Vec<Submission> = students
        .iter()
        .map(|(name, path)| Submission::from_folder(name, path))
        .collect();
    eprintln!(
        "规格：{}；{} 份作业，同时评 {jobs} 份；评分用的目录在 {}",
        tree.source,
        students.len(),
        work.display()
    );

    let bar = indicatif::ProgressBar::new(students.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} 份  已用 {elapsed}  预计还要 {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Graded>>> =
        Mutex::new((0..students.len()).map(|_| None).collect());
    let started = Instant::now();
    let slots = (0..jobs.min(students.len()))
        .map(|_| Slot::acquire(&work))
        .collect::<Result<Vec<_>, _>>()?;
    thread::scope(|scope| {
        for mut slot in slots {
            let (tree, mode, submissions, next, results, bar) =
                (&tree, &mode, &submissions, &next, &results, &bar);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(submission) = submissions.get(i) else {
                        break;
                    };
                    let all: Vec<&'static Exercise> = ALL.iter().collect();
                    let graded =
                        grade::grade_or_report(tree, mode, submission, &all, &mut slot, &|_| {});
                    bar.set_message(submission.name.clone());
                    bar.inc(1);
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(graded);
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    // 到这里，每个学生的每个进程都已经结束（沙箱的 PID 命名空间随评分一起结束）：
    // 成绩只由评分器写，每个文件先写到旁边再改名，读到的要么是旧的、要么是完整的新的
    let results = results.into_inner().unwrap_or_default();
    let mut rows = Vec::new();
    for ((name, _), result) in students.iter().zip(results) {
        let Some(graded) = result else {
            return Err(format!("{name} 的作业没有评完"));
        };
        let json = report::json(&graded, &tree.source);
        write_atomically(&json_dir.join(format!("{name}.json")), json.as_bytes())?;
        rows.push(graded);
    }
    let csv = report::csv(&rows, bom);
    write_atomically(out, csv.as_bytes())?;
    print!("{}", report::class_table(&rows));
    println!(
        "\n{} 份作业，用时 {seconds:.0} 秒（平均每份 {:.1} 秒）。已写入 {}，每个学生的详细结果在 {}/",
        rows.len(),
        seconds / rows.len() as f64,
        out.display(),
        json_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// 先写到同一目录里的临时文件，再改名成 `path`：改名是原子的。
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.new-{}", std::process::id()));
    fs::write(&temporary, bytes)
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|err| {
            let _ = fs::remove_file(&temporary);
            format!("写不了 {}：{err}", path.display())
        })
}

/// `workbook prepare`：检查沙箱，编译好评分工具。
fn prepare(root: &Path, grading: &GradingArgs) -> Result<ExitCode, String> {
    let work = work_dir(root, grading);
    let started = Instant::now();
    let mode = grading_mode(&work, grading.no_sandbox)?;
    let tree = load_spec(root, grading)?;
    match mode {
        Mode::Sandboxed(isolation) => {
            isolation.current(&tree)?;
            println!(
                "评分工具已就绪（规格：{}，用时 {:.0} 秒），在 {}",
                tree.source,
                started.elapsed().as_secs_f64(),
                work.display()
            )
        }
        Mode::Unprotected => println!("--no-sandbox：不用事先准备，评分时在练习册副本里编译"),
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- 给维护者

fn sync_stubs(root: &Path, check_only: bool) -> Result<ExitCode, String> {
    let mut stale = Vec::new();
    for ex in ALL {
        let lab = fs::read_to_string(root.join(ex.lab))
            .map_err(|err| format!("读不了 {}：{err}", ex.lab))?;
        let stub = stubs::make_stub(ex, &lab)?;
        let current = fs::read_to_string(root.join(ex.stub)).unwrap_or_default();
        if current == stub {
            continue;
        }
        if check_only {
            stale.push(ex.stub);
        } else {
            fs::write(root.join(ex.stub), stub)
                .map_err(|err| format!("写不了 {}：{err}", ex.stub))?;
            println!("已生成 {}", ex.stub);
        }
    }
    if stale.is_empty() {
        println!("练习文件和实验一致");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "这些练习文件和实验对不上：{}\n运行 cargo run --bin workbook -- stubs 重新生成",
            stale.join("、")
        ))
    }
}

fn sync_classroom(root: &Path, check_only: bool) -> Result<ExitCode, String> {
    classroom::sync(root, check_only)
}

fn selftest(root: &Path, no_sandbox: bool) -> Result<ExitCode, String> {
    sync_stubs(root, true)?;
    sync_classroom(root, true)?;
    let work = root.join("target/selftest");
    let mode = grading_mode(&work, no_sandbox)?;
    // 唯一的例外：selftest 检验的是维护者还没提交的改动，所以规格取自工作目录
    let tree = Tree::from_working_tree(root)?;
    let mut slot = Slot::acquire(&work)?;
    let all: Vec<&'static Exercise> = ALL.iter().collect();
    let mut problems = Vec::new();

    println!("== 没有动过的练习：照样编译、运行每个测试，每个都应当失败，总分 0");
    let untouched = Submission::from_files("原样的练习", Default::default());
    let graded = grade::grade(
        &tree,
        &mode,
        &untouched,
        &all,
        &mut slot,
        true,
        &print_progress,
    )?;
    print!("{}", report::table(&graded));
    for o in &graded.outcomes {
        if o.state != State::NotStarted || o.tests.is_empty() || o.passed_tests() > 0 {
            problems.push(format!(
                "练习 {} 没动过，却是“{}”，{}/{} 个测试通过：\n{}",
                o.exercise.id,
                o.state.label(),
                o.passed_tests(),
                o.tests.len(),
                o.detail
            ));
        }
        for t in o.tests.iter().filter(|t| t.title == t.name) {
            problems.push(format!(
                "测试 {} 没有写进 labs/workbook/exercises.rs 里练习 {} 的测试清单",
                t.name, o.exercise.id
            ));
        }
    }

    println!("\n== 换上参考答案（实验本身）：每个练习都应当通过，总分满分");
    let mut labs = std::collections::BTreeMap::new();
    for ex in ALL {
        let bytes =
            fs::read(root.join(ex.lab)).map_err(|err| format!("读不了 {}：{err}", ex.lab))?;
        labs.insert(ex.stub, bytes);
    }
    let solutions = Submission::from_files("参考答案", labs);
    let solved = grade::grade(
        &tree,
        &mode,
        &solutions,
        &all,
        &mut slot,
        false,
        &print_progress,
    )?;
    print!("{}", report::table(&solved));
    let json = report::json(&solved, &tree.source);
    let _ = fs::write(root.join("target/selftest/solutions.json"), &json);
    for o in &solved.outcomes {
        if o.state != State::Passed {
            problems.push(format!(
                "参考答案没通过练习 {}（{}）：\n{}",
                o.exercise.id,
                o.state.label(),
                o.detail
            ));
        }
    }

    println!(
        "\n== 作弊的练习 {}：只打印假的测试结果（test … ... ok）然后退出，一个测试也不该通过",
        cheat::EXERCISE
    );
    let ex = find(cheat::EXERCISE)?;
    let files =
        std::collections::BTreeMap::from([(ex.stub, cheat::STICKY_PROTO.as_bytes().to_vec())]);
    let cheater = Submission::from_files("作弊的学生", files);
    let cheated = grade::grade(
        &tree,
        &mode,
        &cheater,
        &[ex],
        &mut slot,
        false,
        &print_progress,
    )?;
    for o in &cheated.outcomes {
        print!("{}", explain(o));
        if o.state == State::Passed || o.tests.is_empty() || o.passed_tests() > 0 {
            problems.push(format!(
                "作弊的练习 {} 骗过了评分：“{}”，{}/{} 个测试通过",
                ex.id,
                o.state.label(),
                o.passed_tests(),
                o.tests.len()
            ));
        }
    }

    if problems.is_empty() {
        println!(
            "\n评分器自检通过：没动过的练习 0 分，参考答案满分，作弊的练习一个测试也没通过\
             （JSON 见 target/selftest/solutions.json）"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!("评分器自检失败：\n{}", problems.join("\n\n")))
    }
}
