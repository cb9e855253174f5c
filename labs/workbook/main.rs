//! # 练习册工具 `workbook`
//!
//! 给学生：`list` 看进度，`check` 检查一个练习并解释第一个失败，`hint` 看提示，
//! `watch` 在保存文件时自动重新检查。
//! 给教师：`grade` 给全部练习打分（表格、JSON 或 JUnit），`grade-folder` 把一个文件夹里
//! 所有学生的作业评成一张 CSV。
//! 给维护者：`stubs`、`spec`、`classroom` 由实验生成或核对练习文件、规格清单和
//! GitHub Classroom 配置；`selftest` 证明评分器是诚实的：没动过的练习一分不得，参考答案满分，
//! 打印假测试结果的作弊练习一个测试也通不过。
//!
//! 运行：`cargo run --bin workbook -- list`

mod cheat;
mod exercises;
mod report;
mod runner;
mod spec;
mod stubs;
mod workspace;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};

use exercises::{ALL, Exercise};
use runner::{Outcome, State};

/// Socket 编程练习册的练习工具
#[derive(Parser)]
#[command(name = "workbook", version)]
struct Args {
    /// 练习册仓库的根目录
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
    Check {
        name: Option<String>,
        /// 先核对测试和快照没被改动过，改动过就拒绝检查（自动评分用）
        #[arg(long)]
        strict: bool,
    },
    /// 显示一个练习的提示
    Hint { name: String },
    /// 保存文件时自动重新检查当前练习（Ctrl-C 退出）
    Watch,
    /// 给全部练习打分；不是全部通过时退出码非零
    Grade {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// 评一个文件夹里所有学生的作业（每个学生一个子文件夹），结果写成一张 CSV
    GradeFolder {
        /// 放学生作业的文件夹
        dir: PathBuf,
        /// CSV 文件
        #[arg(long, default_value = "scores.csv")]
        out: PathBuf,
    },
    /// （维护者）由实验文件重新生成练习文件；--check 只核对、不写入
    Stubs {
        #[arg(long)]
        check: bool,
    },
    /// （维护者）重新计算测试和快照的规格清单；--write 写入清单文件
    Spec {
        #[arg(long)]
        write: bool,
    },
    /// （维护者）生成 GitHub Classroom 的自动评分配置；--check 只核对、不写入
    Classroom {
        #[arg(long)]
        check: bool,
    },
    /// （维护者）证明评分器诚实：没动过的练习全部不通过、得 0 分，换上参考答案后全部通过、得满分，
    /// 只会打印假测试结果的作弊练习一个测试也通不过
    Selftest,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Junit,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let root = args.root.as_path();
    let result = match args.command {
        Cmd::List => list(root),
        Cmd::Check { name, strict } => {
            if strict {
                verify_spec(root).and_then(|()| check(root, name.as_deref()))
            } else {
                check(root, name.as_deref())
            }
        }
        Cmd::Hint { name } => hint(&name),
        Cmd::Watch => watch(root),
        Cmd::Grade { format } => grade(root, format),
        Cmd::GradeFolder { dir, out } => grade_folder(root, &dir, &out),
        Cmd::Stubs { check } => sync_stubs(root, check),
        Cmd::Spec { write } => sync_spec(root, write),
        Cmd::Classroom { check } => sync_classroom(root, check),
        Cmd::Selftest => selftest(root),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn find(name: &str) -> Result<&'static Exercise, String> {
    exercises::find(name).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|ex| ex.name).collect();
        format!("没有叫 {name} 的练习。可用的练习：{}", names.join("、"))
    })
}

// ---------------------------------------------------------------- 给学生

/// 上次检查的结果，存在 target/workbook/status：每行 `名字 状态 练习文件的哈希`。
fn status_file(root: &Path) -> PathBuf {
    root.join("target/workbook/status")
}

fn stub_hash(root: &Path, ex: &Exercise) -> String {
    let bytes = fs::read(root.join(ex.stub)).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

fn save_status(root: &Path, outcome: &Outcome) {
    let mut status = load_status(root);
    let ex = outcome.exercise;
    status.insert(
        ex.name.to_string(),
        (outcome.state.key().to_string(), stub_hash(root, ex)),
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
    println!("正在检查练习 {}：{}（{}）……", ex.id, ex.title, ex.stub);
    let outcome = runner::check(ex, root, None);
    save_status(root, &outcome);
    print!("{}", explain(&outcome));
    Ok(if outcome.state == State::Passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// 给学生看的检查结果。
fn explain(outcome: &Outcome) -> String {
    let ex = outcome.exercise;
    let tests = format!(
        "{}/{} 个测试通过",
        outcome.passed_tests(),
        outcome.tests.len()
    );
    let mut text = format!("\n练习 {}：{}\n", outcome.state.label(), tests);
    for t in &outcome.tests {
        text.push_str(&format!(
            "  {} {}\n",
            if t.passed { "✓" } else { "✗" },
            t.name
        ));
    }
    match outcome.state {
        State::Passed => {
            text.push_str(&format!(
                "\n做得好！练习 {} 完成。下一个：cargo run --bin workbook -- check\n",
                ex.id
            ));
        }
        State::NotStarted => {
            text.push_str(&format!(
                "\n尚未完成：{}\n\n提示：\n{}\n",
                outcome.detail,
                indent(ex.hint)
            ));
        }
        _ => {
            text.push_str(&format!("\n{}\n", indent(&outcome.detail)));
        }
    }
    if outcome.state != State::Passed {
        text.push_str(&format!(
            "\n请重读：{}（book/{}）。看提示：cargo run --bin workbook -- hint {}\n",
            ex.section, ex.book, ex.name
        ));
    }
    text
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {}", l.trim_start()))
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

fn modified_times(root: &Path) -> Vec<Option<SystemTime>> {
    ALL.iter()
        .map(|ex| {
            fs::metadata(root.join(ex.stub))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect()
}

fn watch(root: &Path) -> Result<ExitCode, String> {
    loop {
        let Some(ex) = next_unfinished(root) else {
            println!("全部练习都已通过，恭喜！");
            return Ok(ExitCode::SUCCESS);
        };
        println!("\n==== 练习 {}：{}（编辑 {}）", ex.id, ex.title, ex.stub);
        let outcome = runner::check(ex, root, None);
        save_status(root, &outcome);
        print!("{}", explain(&outcome));
        if outcome.state == State::Passed {
            continue; // 直接进入下一个练习
        }
        println!("\n保存练习文件后会自动重新检查；按 Ctrl-C 退出。");
        let before = modified_times(root);
        while modified_times(root) == before {
            thread::sleep(Duration::from_millis(500)); // 轮询文件的修改时间
        }
    }
}

// ---------------------------------------------------------------- 给教师

/// 核对规格清单：测试或快照被改动过时返回错误，指出是哪些文件。
fn verify_spec(root: &Path) -> Result<(), String> {
    let changed = spec::changed_files(root);
    if changed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "拒绝评分：下面这些定义规格的测试或快照和 {} 不一致（被改动过）：\n  {}\n\
         请在一份干净的练习册里评分，只把学生的 labs/exercises/ 复制进去（grade-folder 就是这样做的）。",
        spec::MANIFEST,
        changed.join("\n  ")
    ))
}

fn grade_all(root: &Path, target_dir: Option<&Path>) -> Vec<Outcome> {
    ALL.iter()
        .map(|ex| {
            eprintln!("评分：练习 {} {}……", ex.id, ex.name);
            runner::check(ex, root, target_dir)
        })
        .collect()
}

fn grade(root: &Path, format: Format) -> Result<ExitCode, String> {
    verify_spec(root)?;
    let outcomes = grade_all(root, None);
    match format {
        Format::Table => print!("{}", report::table(&outcomes)),
        Format::Json => println!("{}", report::json(&outcomes)),
        Format::Junit => print!("{}", report::junit(&outcomes)),
    }
    let all_passed = outcomes.iter().all(|o| o.state == State::Passed);
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn grade_folder(root: &Path, dir: &Path, out: &Path) -> Result<ExitCode, String> {
    verify_spec(root)?;
    let mut students: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|err| format!("读不了 {}：{err}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    students.sort();
    let work = root.join("target/grading/workbook");
    let target = root.join("target/grading/target");
    let mut csv = String::from("学生");
    for ex in ALL {
        csv.push_str(&format!(",练习 {} {}", ex.id, ex.name));
    }
    csv.push_str(",总分,满分\n");
    for student in &students {
        let name = student
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        eprintln!("== {name}");
        // 一份干净的练习册，只放进学生的练习文件：学生改动的测试不会被用来评分
        workspace::copy_workbook(root, &work)?;
        for ex in ALL {
            let flat = Path::new(ex.stub).file_name().map(|f| student.join(f));
            let submitted = [Some(student.join(ex.stub)), flat]
                .into_iter()
                .flatten()
                .find(|p| p.is_file());
            if let Some(file) = submitted {
                fs::copy(&file, work.join(ex.stub))
                    .map_err(|err| format!("复制 {} 失败：{err}", file.display()))?;
            }
        }
        let outcomes = grade_all(&work, Some(&target));
        let (total, max) = report::totals(&outcomes);
        csv.push_str(&csv_field(&name));
        for o in &outcomes {
            csv.push_str(&format!(",{}", o.points()));
        }
        csv.push_str(&format!(",{total},{max}\n"));
        let json_file = out.with_file_name(format!("{name}.json"));
        let _ = fs::write(&json_file, report::json(&outcomes));
    }
    fs::write(out, &csv).map_err(|err| format!("写不了 {}：{err}", out.display()))?;
    println!("{csv}");
    println!(
        "已写入 {}（每个学生的详细结果在同一目录下的 <学生>.json）",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
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

fn sync_spec(root: &Path, write: bool) -> Result<ExitCode, String> {
    if write {
        fs::write(root.join(spec::MANIFEST), spec::current(root))
            .map_err(|err| format!("写不了清单：{err}"))?;
        println!("已写入 {}", spec::MANIFEST);
        return Ok(ExitCode::SUCCESS);
    }
    verify_spec(root).map_err(|_| {
        format!(
            "规格清单过期了：{}\n有意修改测试或快照之后，运行 cargo run --bin workbook -- spec --write",
            spec::changed_files(root).join("、")
        )
    })?;
    println!("规格清单和测试、快照一致");
    Ok(ExitCode::SUCCESS)
}

const CLASSROOM: &str = ".github/classroom/autograding.json";

fn classroom_config() -> String {
    let tests: Vec<_> = ALL
        .iter()
        .map(|ex| {
            serde_json::json!({
                "name": format!("练习 {}：{}", ex.id, ex.title),
                "setup": "",
                "run": format!("cargo run --quiet --bin workbook -- check {} --strict", ex.name),
                "input": "",
                "output": "",
                "comparison": "included",
                "timeout": 10,
                "points": ex.points,
            })
        })
        .collect();
    let config = serde_json::json!({ "tests": tests });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&config).unwrap_or_default()
    )
}

fn sync_classroom(root: &Path, check_only: bool) -> Result<ExitCode, String> {
    let wanted = classroom_config();
    let current = fs::read_to_string(root.join(CLASSROOM)).unwrap_or_default();
    if current == wanted {
        println!("{CLASSROOM} 和练习清单一致");
        return Ok(ExitCode::SUCCESS);
    }
    if check_only {
        return Err(format!(
            "{CLASSROOM} 过期了：运行 cargo run --bin workbook -- classroom 重新生成"
        ));
    }
    let file = root.join(CLASSROOM);
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|err| format!("创建 {} 失败：{err}", dir.display()))?;
    }
    fs::write(&file, wanted).map_err(|err| format!("写不了 {CLASSROOM}：{err}"))?;
    println!("已生成 {CLASSROOM}");
    Ok(ExitCode::SUCCESS)
}

fn selftest(root: &Path) -> Result<ExitCode, String> {
    sync_stubs(root, true)?;
    sync_spec(root, false)?;
    sync_classroom(root, true)?;

    println!("\n== 没有动过的练习：每个练习的每个测试都应当失败，状态是“尚未完成”，总分 0");
    let untouched = grade_all(root, None);
    print!("{}", report::table(&untouched));
    let mut problems = Vec::new();
    for o in &untouched {
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
    }

    println!("\n== 换上参考答案（实验本身）：每个练习都应当通过，总分满分");
    let copy = root.join("target/selftest/workbook");
    workspace::copy_workbook(root, &copy)?;
    for ex in ALL {
        fs::copy(root.join(ex.lab), copy.join(ex.stub))
            .map_err(|err| format!("复制参考答案失败：{err}"))?;
    }
    let solved = grade_all(&copy, Some(&root.join("target/selftest/target")));
    print!("{}", report::table(&solved));
    let json = report::json(&solved);
    let _ = fs::write(root.join("target/selftest/solutions.json"), &json);
    for o in &solved {
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
    fs::write(copy.join(ex.stub), cheat::STICKY_PROTO)
        .map_err(|err| format!("写入作弊的练习失败：{err}"))?;
    let cheated = runner::check(ex, &copy, Some(&root.join("target/selftest/target")));
    print!("{}", explain(&cheated));
    if cheated.state == State::Passed || cheated.tests.is_empty() || cheated.passed_tests() > 0 {
        problems.push(format!(
            "作弊的练习 {} 骗过了评分：“{}”，{}/{} 个测试通过",
            ex.id,
            cheated.state.label(),
            cheated.passed_tests(),
            cheated.tests.len()
        ));
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
