//! 给一份作业评分：在一份干净的练习册里，只放进学生的练习文件。
//!
//! 规则只有一条，`grade`、`grade-folder` 和 GitHub Classroom 都守着它：
//! 测试、快照、评分工具、Cargo.toml 和原始的练习都来自一个 git 提交（[`Tree`]），
//! 学生没交的练习就是原始的练习；学生的程序在练习册以外的目录里运行；
//! 运行之后再逐个字节核对规格和评分用的程序，有出入就记为篡改，一分不给。

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::exercises::{ALL, Exercise};
use crate::runner::{self, Job, Outcome, Progress, State};
use crate::tree::Tree;

/// 一个练习文件最大多少字节：再大就不是手写的代码了。
const MAX_FILE: u64 = 1024 * 1024;

/// 一份作业：每个练习交了什么。
pub struct Submission {
    pub name: String,
    /// 练习文件（ex.stub）→ 交上来的内容；没交的不在里面
    files: BTreeMap<&'static str, Vec<u8>>,
    /// 不能接受的文件（符号链接、不是普通文件、太大）：它们让整份作业记为篡改
    problems: Vec<String>,
}

impl Submission {
    /// 直接给出练习文件的内容（selftest 用）。
    pub fn from_files(name: &str, files: BTreeMap<&'static str, Vec<u8>>) -> Submission {
        Submission {
            name: name.to_string(),
            files,
            problems: Vec::new(),
        }
    }

    /// 在一个文件夹里找学生的练习文件：`labs/exercises/tcp_server.rs` 这样的完整仓库，
    /// 或者直接放着的 `tcp_server.rs`；文件夹里只有一个子文件夹时（解压出来的仓库），往里找。
    pub fn from_folder(name: &str, dir: &Path) -> Submission {
        let mut dir = dir.to_path_buf();
        if let Some(only) = single_subfolder(&dir)
            && !ALL
                .iter()
                .any(|ex| dir.join(ex.stub).exists() || dir.join(file_name(ex)).exists())
        {
            dir = only;
        }
        let mut submission = Submission {
            name: name.to_string(),
            files: BTreeMap::new(),
            problems: Vec::new(),
        };
        for ex in ALL {
            for candidate in [dir.join(ex.stub), dir.join(file_name(ex))] {
                // 路径上的每一级目录都必须是真的目录：指向别处的符号链接（例如指向同学的作业）不算数
                if let Some(link) = linked_folder(&dir, &candidate) {
                    submission.problems.push(format!(
                        "{} 是一个符号链接：作业里的目录和文件必须是学生自己的",
                        link.strip_prefix(&dir).unwrap_or(&link).display()
                    ));
                    break;
                }
                let Ok(meta) = fs::symlink_metadata(&candidate) else {
                    continue;
                };
                let shown = candidate.strip_prefix(&dir).unwrap_or(&candidate).display();
                if !meta.file_type().is_file() {
                    submission.problems.push(format!(
                        "{shown} 不是普通文件（符号链接或目录）：练习文件必须是学生自己写的源文件"
                    ));
                } else if meta.len() > MAX_FILE {
                    submission.problems.push(format!(
                        "{shown} 有 {} 字节，超过了 {MAX_FILE} 字节",
                        meta.len()
                    ));
                } else if let Ok(bytes) = fs::read(&candidate) {
                    submission.files.insert(ex.stub, bytes);
                }
                break;
            }
        }
        // 同一个符号链接目录会挡住好几个练习：说一次就够了
        submission.problems.dedup();
        submission
    }
}

fn file_name(ex: &Exercise) -> &str {
    Path::new(ex.stub)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or(ex.stub)
}

fn single_subfolder(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    match entries.as_slice() {
        // 符号链接不算：它可能指向同学的作业
        [only] if fs::symlink_metadata(only).is_ok_and(|m| m.is_dir()) => Some(only.clone()),
        _ => None,
    }
}

/// `file` 在 `dir` 之下的路径上，第一个是符号链接的目录（没有就是 None）。
fn linked_folder(dir: &Path, file: &Path) -> Option<PathBuf> {
    let relative = file.strip_prefix(dir).ok()?;
    let mut at = dir.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// 一份作业的总体情况（CSV 的“状态”一列）。
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Ok,
    /// 没有一个练习文件和原始的练习不同
    Empty,
    /// 有练习编译不过
    CompileError,
    /// 规格或评分用的程序被改动：不给分
    Tampered,
    /// 评分本身出了错（清空工位重试过一次），说明里写着原因：请单独重评
    Error,
}

impl Status {
    pub fn key(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Empty => "empty",
            Status::CompileError => "compile_error",
            Status::Tampered => "tampered",
            Status::Error => "error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "正常",
            Status::Empty => "空作业",
            Status::CompileError => "编译失败",
            Status::Tampered => "篡改",
            Status::Error => "评分出错",
        }
    }
}

/// 一份作业的评分结果。
pub struct Graded {
    pub student: String,
    pub status: Status,
    pub outcomes: Vec<Outcome>,
    /// 状态的具体说明，例如哪些文件被改动、哪些练习编译不过
    pub note: String,
}

impl Graded {
    pub fn total(&self) -> f64 {
        self.outcomes.iter().map(Outcome::points).sum()
    }
}

/// 评分用的一个工位：一份练习册副本、它的编译产物、学生程序的工作目录。
/// 同一个工位接着评下一个学生时，没变的文件不重写，编译好的东西接着用。
pub struct Slot {
    pub workbook: PathBuf,
    pub target: PathBuf,
    /// 放各次评分的临时工作目录的地方（每次评分一个新的子目录）
    dir: PathBuf,
    /// 这个工位评过几份作业（用来给工作目录起不重复的名字）
    graded: usize,
    /// 在没有运行过任何学生程序的时候编译出来的程序，和它们的 SHA-256
    trusted: BTreeMap<PathBuf, String>,
    /// 占着这个工位的锁（随 Slot 一起放开）
    _lock: fs::File,
}

impl Slot {
    /// 在 `work` 里占一个没人用的工位（`slot-0`、`slot-1`……）。每个工位有一把文件锁：
    /// 同时运行的几次评分（几个终端、几个 grade-folder 的线程）各用各的，互不干扰；
    /// 进程结束时锁自动放开，下一次评分接着用这个工位里编译好的东西。
    pub fn acquire(work: &Path) -> Result<Slot, String> {
        for i in 0.. {
            let dir = work.join(format!("slot-{i}"));
            fs::create_dir_all(&dir).map_err(|err| format!("无法创建 {}：{err}", dir.display()))?;
            let lock = fs::File::create(dir.join("lock"))
                .map_err(|err| format!("无法创建 {}：{err}", dir.join("lock").display()))?;
            if lock.try_lock().is_ok() {
                return Ok(Slot {
                    workbook: dir.join("workbook"),
                    target: dir.join("target"),
                    dir: dir.clone(),
                    graded: 0,
                    trusted: BTreeMap::new(),
                    _lock: lock,
                });
            }
        }
        unreachable!("工位的编号用不完")
    }

    /// 一个新的、空的工作目录给学生的程序用。每次评分换一个名字：上一个学生的程序
    /// 就算把它的工作目录换成了一个文件，也挡不住下一个学生。
    fn fresh_scratch(&mut self) -> Result<PathBuf, String> {
        self.graded += 1;
        let scratch = self
            .dir
            .join(format!("scratch-{}-{}", std::process::id(), self.graded));
        remove_anything(&scratch);
        fs::create_dir_all(&scratch)
            .map_err(|err| format!("无法创建 {}：{err}", scratch.display()))?;
        Ok(scratch)
    }

    /// 把工位清空重来：评分出了不是学生造成的错（例如编译好的东西被上一个学生的程序弄坏了）时用。
    pub fn reset(&mut self) {
        remove_anything(&self.workbook);
        remove_anything(&self.target);
        self.trusted.clear();
    }
}

/// 删掉一个路径，不管它是目录还是文件（只读的也删）。
fn remove_anything(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        make_tree_writable(path);
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

fn make_tree_writable(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => make_tree_writable(&path),
            _ => crate::tree::make_writable(&path),
        }
    }
}

/// 一段字节的 SHA-256，写成十六进制。
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_file(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(_) => "（读不到）".into(),
    }
}

/// 评一份作业。`force` 为真时，和原始练习一模一样的文件也编译、测试（selftest 用）。
pub fn grade(
    tree: &Tree,
    submission: &Submission,
    exercises: &[&'static Exercise],
    slot: &mut Slot,
    force: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Graded, String> {
    // 1. 学生交的练习文件；没交的就是原始的练习
    let mut overrides = BTreeMap::new();
    for ex in ALL {
        let original = tree
            .get(ex.stub)
            .ok_or_else(|| format!("{} 里没有 {}", tree.source, ex.stub))?;
        let content = submission
            .files
            .get(ex.stub)
            .map_or(original, Vec::as_slice);
        overrides.insert(ex.stub.to_string(), content.to_vec());
    }
    let untouched = |ex: &Exercise| !force && Some(&overrides[ex.stub][..]) == tree.get(ex.stub);

    if !submission.problems.is_empty() {
        return Ok(tampered(
            submission,
            exercises,
            submission.problems.join("\n"),
        ));
    }
    if exercises.iter().all(|ex| untouched(ex)) {
        let job_outcomes = exercises
            .iter()
            .map(|ex| not_started(ex, "和原始的练习一模一样"))
            .collect();
        return Ok(Graded {
            student: submission.name.clone(),
            status: Status::Empty,
            outcomes: job_outcomes,
            note: "没有一个练习文件和原始的练习不同".into(),
        });
    }

    // 2. 铺一份干净的练习册
    tree.sync(&slot.workbook, &overrides)?;
    let scratch = slot.fresh_scratch()?;

    // 3. 编译。上一个学生的程序如果换掉了评分用的程序，这里删掉它们重新编译
    let job = Job {
        root: &slot.workbook,
        target_dir: &slot.target,
        scratch: &scratch,
        exercises: exercises.iter().map(|ex| (*ex, untouched(ex))).collect(),
        progress,
        lean: true,
    };
    let mut built = runner::build(&job)?;
    let replaced: Vec<PathBuf> = slot
        .trusted
        .iter()
        .filter(|(path, hash)| {
            built.executables.iter().any(|(p, _)| p == *path) && sha256_file(path) != **hash
        })
        .map(|(path, _)| path.clone())
        .collect();
    if !replaced.is_empty() {
        for path in &replaced {
            let _ = fs::remove_file(path);
            slot.trusted.remove(path);
        }
        built = runner::build(&job)?;
    }
    // 第一次编译时还没有运行过任何学生的程序：这时的评分程序是可信的
    let mut expected: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (path, has_student_code) in &built.executables {
        let hash = sha256_file(path);
        if !has_student_code {
            let trusted = slot.trusted.entry(path.clone()).or_insert(hash.clone());
            if *trusted != hash {
                return Err(format!("{} 和可信的版本不同", path.display()));
            }
        }
        expected.insert(path.clone(), hash);
    }

    // 4. 运行测试
    let outcomes = runner::test(&job, &built);

    // 5. 学生的程序运行过了：规格和评分用的程序都还是原样吗？
    let mut changed = tree.differences(&slot.workbook, &overrides);
    for (path, hash) in &expected {
        if sha256_file(path) != *hash {
            changed.push(format!("{}（评分用的程序被换掉）", path.display()));
        }
    }
    remove_anything(&scratch);
    if !changed.is_empty() {
        // 被换掉的程序删掉：下一次评分（也许是另一个进程）会重新编译，而不是用上它们
        for (path, hash) in &expected {
            if sha256_file(path) != *hash {
                let _ = fs::remove_file(path);
                slot.trusted.remove(path);
            }
        }
        return Ok(tampered(
            submission,
            exercises,
            format!("评分期间这些文件被改动了：\n  {}", changed.join("\n  ")),
        ));
    }
    if let Some(o) = outcomes.iter().find(|o| o.state == State::Tampered) {
        return Ok(tampered(submission, exercises, o.detail.clone()));
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.state == State::CompileError)
        .map(|o| o.exercise.id)
        .collect();
    let (status, note) = if failed.is_empty() {
        (Status::Ok, String::new())
    } else {
        (
            Status::CompileError,
            format!("练习 {} 编译不过", failed.join("、")),
        )
    };
    Ok(Graded {
        student: submission.name.clone(),
        status,
        outcomes,
        note,
    })
}

fn not_started(ex: &'static Exercise, why: &str) -> Outcome {
    Outcome {
        exercise: ex,
        state: State::NotStarted,
        tests: runner::not_run(ex),
        detail: format!("{}：{why}", ex.stub),
        seconds: 0.0,
    }
}

/// 评一份作业；评分本身出错时，清空工位再试一次，还是出错就记为“评分出错”（0 分，说明原因），
/// 不让一份作业挡住整个班。
pub fn grade_or_report(
    tree: &Tree,
    submission: &Submission,
    exercises: &[&'static Exercise],
    slot: &mut Slot,
    progress: &(dyn Fn(Progress) + Sync),
) -> Graded {
    let first = grade(tree, submission, exercises, slot, false, progress);
    let err = match first {
        Ok(graded) => return graded,
        Err(err) => err,
    };
    slot.reset();
    match grade(tree, submission, exercises, slot, false, progress) {
        Ok(graded) => graded,
        Err(again) => {
            let mut graded = tampered(submission, exercises, String::new());
            for outcome in &mut graded.outcomes {
                outcome.state = State::Failed;
                outcome.detail = again.clone();
            }
            graded.status = Status::Error;
            graded.note = format!("评分出错（清空评分副本重试过一次）：{again}（第一次：{err}）");
            graded
        }
    }
}

/// 篡改：每个练习都记为篡改、0 分，说明写清楚是哪些文件。
fn tampered(submission: &Submission, exercises: &[&'static Exercise], note: String) -> Graded {
    let outcomes = exercises
        .iter()
        .map(|ex| {
            let mut outcome = not_started(ex, "");
            outcome.state = State::Tampered;
            outcome.detail = note.clone();
            outcome
        })
        .collect();
    Graded {
        student: submission.name.clone(),
        status: Status::Tampered,
        outcomes,
        note,
    }
}
