//! 给一份作业评分：规格来自一个提交，学生只提供练习文件。
//!
//! 规则只有一条，`grade`、`grade-folder` 和 GitHub Classroom 都守着它：
//! 测试、快照、评分工具、Cargo.toml 和原始的练习都来自一个 git 提交（[`Tree`]），
//! 学生没交的练习就是原始的练习。学生交的文件在任何学生的代码运行之前就读进了内存。
//!
//! 平常（[`Mode::Sandboxed`]）学生的代码只在沙箱里编译和运行（sandbox.rs），评分工具事先编译好、
//! 每个学生评分前后都核对（harness.rs）。教师明确放弃沙箱时（`--no-sandbox`，[`Mode::Unprotected`]），
//! 在一份干净的练习册副本里编译、运行，运行之后再逐个字节核对规格和评分用的程序，
//! 有出入就记为篡改；这时学生的程序能做评分器能做的一切，成绩标为“未隔离”。

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::exercises::{ALL, Exercise};
use crate::harness::Harness;
use crate::runner::{self, Job, Outcome, Place, Progress, State};
use crate::sandbox::Sandbox;
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
    /// 学生的代码是在沙箱里编译、运行的（为假时成绩表标上“未隔离”）
    pub isolated: bool,
}

impl Graded {
    pub fn total(&self) -> f64 {
        // 空的和是 -0.0：加上 0.0 变成 0
        self.outcomes.iter().map(Outcome::points).sum::<f64>() + 0.0
    }
}

/// 怎样评分。
pub enum Mode {
    /// 学生的代码只在沙箱里编译、运行
    Sandboxed(Box<Isolation>),
    /// 教师明确放弃了沙箱（`--no-sandbox`）
    Unprotected,
}

/// 沙箱评分要用的：沙箱本身，和当前的评分工具（第一次要用时才编译；核对不上时换成重新编译的一份）。
pub struct Isolation {
    pub sandbox: Sandbox,
    work: PathBuf,
    harness: Mutex<Option<Arc<Harness>>>,
}

impl Isolation {
    pub fn new(sandbox: Sandbox, work: &Path) -> Isolation {
        Isolation {
            sandbox,
            work: work.to_path_buf(),
            harness: Mutex::new(None),
        }
    }

    /// 当前的评分工具；还没有就准备一份（在第一个学生的代码运行之前）。
    /// 同时评的几个线程在这里排队，只编译一次。
    pub fn current(&self, tree: &Tree) -> Result<Arc<Harness>, String> {
        let mut current = self.harness.lock().map_err(|_| "评分工具的锁坏了")?;
        if let Some(harness) = current.as_ref() {
            return Ok(Arc::clone(harness));
        }
        let harness = Arc::new(Harness::ready(tree, &self.work, &self.sandbox)?);
        *current = Some(Arc::clone(&harness));
        Ok(harness)
    }

    /// 评分工具核对不上时：从提交重新编译一份（别的线程已经换过了就直接用新的）。
    fn renew(&self, tree: &Tree, stale: &Arc<Harness>) -> Result<(), String> {
        let mut current = self.harness.lock().map_err(|_| "评分工具的锁坏了")?;
        if current.as_ref().is_some_and(|h| Arc::ptr_eq(h, stale)) {
            *current = Some(Arc::new(Harness::ready(tree, &self.work, &self.sandbox)?));
        }
        Ok(())
    }
}

/// 评分用的一个工位：一个只给这次评分用的目录（放每个学生的练习文件和编译输出），
/// 没有沙箱时还有一份练习册副本和它的编译产物。
pub struct Slot {
    pub workbook: PathBuf,
    pub target: PathBuf,
    /// 放各次评分的临时目录的地方（每次评分一个新的子目录）
    dir: PathBuf,
    /// 这个工位评过几份作业（用来给临时目录起不重复的名字）
    graded: usize,
    /// 没有沙箱时：在没有运行过任何学生程序的时候编译出来的程序，和它们的 SHA-256
    trusted: BTreeMap<PathBuf, String>,
    /// 占着这个工位的锁（随 Slot 一起放开）
    _lock: fs::File,
}

impl Slot {
    /// 在 `work` 里占一个没人用的工位（`slot-0`、`slot-1`……）。每个工位有一把文件锁：
    /// 同时运行的几次评分（几个终端、几个 grade-folder 的线程）各用各的，互不干扰；
    /// 进程结束时锁自动放开。
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

    /// 一个新的、空的临时目录。每次评分换一个名字：上一个学生的程序
    /// 就算把它的目录换成了一个文件，也挡不住下一个学生。
    fn fresh_dir(&mut self, kind: &str) -> Result<PathBuf, String> {
        self.graded += 1;
        let dir = self
            .dir
            .join(format!("{kind}-{}-{}", std::process::id(), self.graded));
        remove_anything(&dir);
        fs::create_dir_all(&dir).map_err(|err| format!("无法创建 {}：{err}", dir.display()))?;
        Ok(dir)
    }

    /// 把工位清空重来：评分出了不是学生造成的错（例如编译好的东西坏了）时用。
    pub fn reset(&mut self) {
        remove_anything(&self.workbook);
        remove_anything(&self.target);
        self.trusted.clear();
    }
}

/// 删掉一个路径，不管它是目录还是文件（只读的也删）。
///
/// 删文件要的是它所在的目录可写，和文件本身的权限无关：这里只把目录改成可写，文件一个也不碰。
/// 学生的编译目录里有许多文件是评分工具的硬链接（harness.rs），改了它们的权限就是改了评分工具。
pub fn remove_anything(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        make_folders_writable(path);
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

/// 把 `dir` 和它下面的每一层目录改成自己可写（文件不动）。
fn make_folders_writable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::symlink_metadata(dir) {
            let mode = meta.permissions().mode();
            if mode & 0o200 == 0 {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o200));
            }
        }
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            make_folders_writable(&entry.path());
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
    mode: &Mode,
    submission: &Submission,
    exercises: &[&'static Exercise],
    slot: &mut Slot,
    force: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Graded, String> {
    let isolated = matches!(mode, Mode::Sandboxed(_));
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
            isolated,
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
            isolated,
        });
    }
    let plan: Vec<(&'static Exercise, bool)> =
        exercises.iter().map(|ex| (*ex, untouched(ex))).collect();
    let outcomes = match mode {
        Mode::Sandboxed(isolation) => {
            match in_sandbox(tree, isolation, &overrides, plan, slot, progress)? {
                Ok(outcomes) => outcomes,
                Err(changed) => return Ok(tampered(submission, exercises, changed, true)),
            }
        }
        Mode::Unprotected => match unprotected(tree, &overrides, plan, slot, progress)? {
            Ok(outcomes) => outcomes,
            Err(changed) => return Ok(tampered(submission, exercises, changed, false)),
        },
    };
    if let Some(o) = outcomes.iter().find(|o| o.state == State::Tampered) {
        return Ok(tampered(submission, exercises, o.detail.clone(), isolated));
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
        isolated,
    })
}

/// 在沙箱里编译、测试。评分工具在使用之前、评完之后各核对一次；
/// 评完之后对不上，说明评分期间有东西改了它：这次的结果不可信，返回错误（调用者重新编译评分工具、重评）。
/// 内层的 `Err` 是篡改的说明（测试程序的输出被冒充，见 runner.rs）。
fn in_sandbox(
    tree: &Tree,
    isolation: &Isolation,
    overrides: &BTreeMap<String, Vec<u8>>,
    plan: Vec<(&'static Exercise, bool)>,
    slot: &mut Slot,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Result<Vec<Outcome>, String>, String> {
    let harness = isolation.current(tree)?;
    if let Err(why) = harness.verify(tree) {
        isolation.renew(tree, &harness)?;
        return Err(format!(
            "评分工具在使用之前核对不上（{why}），已从提交重新编译"
        ));
    }
    let dir = slot.fresh_dir("student")?;
    let result = (|| -> Result<Vec<Outcome>, String> {
        // 学生交的、和原始练习不同的文件：写进评分器自己的目录，只读地盖在规格上
        let mut files = Vec::new();
        for (path, bytes) in overrides {
            if tree.get(path) != Some(bytes.as_slice()) {
                let file = dir.join("files").join(path);
                if let Some(parent) = file.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|err| format!("无法创建 {}：{err}", parent.display()))?;
                }
                fs::write(&file, bytes)
                    .map_err(|err| format!("写不了 {}：{err}", file.display()))?;
                files.push((file, path.clone()));
            }
        }
        let target = dir.join("target");
        harness.student_target(&target)?;
        let job = Job {
            exercises: plan,
            progress,
            place: Place::Sandboxed {
                sandbox: &isolation.sandbox,
                harness: &harness,
                overlays: &files,
                files: overrides,
                target: &target,
            },
        };
        let built = runner::build(&job)?;
        Ok(runner::test(&job, &built))
    })();
    remove_anything(&dir);
    let outcomes = result?;
    if let Err(why) = harness.verify(tree) {
        isolation.renew(tree, &harness)?;
        return Err(format!(
            "评分期间评分工具被改动了（{why}）：这次的结果不算，已从提交重新编译评分工具"
        ));
    }
    Ok(Ok(outcomes))
}

/// 没有沙箱：在一份干净的练习册副本里编译、测试，之后逐个字节核对规格和评分用的程序。
fn unprotected(
    tree: &Tree,
    overrides: &BTreeMap<String, Vec<u8>>,
    plan: Vec<(&'static Exercise, bool)>,
    slot: &mut Slot,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Result<Vec<Outcome>, String>, String> {
    // 铺一份干净的练习册
    tree.sync(&slot.workbook, overrides)?;
    let scratch = slot.fresh_dir("scratch")?;
    let (workbook, target) = (slot.workbook.clone(), slot.target.clone());
    let job = Job {
        exercises: plan,
        progress,
        place: Place::Local {
            root: &workbook,
            target_dir: &target,
            scratch: &scratch,
            lean: true,
        },
    };
    // 编译。上一个学生的程序如果换掉了评分用的程序，这里删掉它们重新编译
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
    let outcomes = runner::test(&job, &built);
    // 学生的程序运行过了：规格和评分用的程序都还是原样吗？
    let mut changed = tree.differences(&slot.workbook, overrides);
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
        return Ok(Err(format!(
            "评分期间这些文件被改动了：\n  {}",
            changed.join("\n  ")
        )));
    }
    Ok(Ok(outcomes))
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
    mode: &Mode,
    submission: &Submission,
    exercises: &[&'static Exercise],
    slot: &mut Slot,
    progress: &(dyn Fn(Progress) + Sync),
) -> Graded {
    let first = grade(tree, mode, submission, exercises, slot, false, progress);
    let err = match first {
        Ok(graded) => return graded,
        Err(err) => err,
    };
    slot.reset();
    match grade(tree, mode, submission, exercises, slot, false, progress) {
        Ok(graded) => graded,
        Err(again) => {
            let isolated = matches!(mode, Mode::Sandboxed(_));
            let mut graded = tampered(submission, exercises, String::new(), isolated);
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
fn tampered(
    submission: &Submission,
    exercises: &[&'static Exercise],
    note: String,
    isolated: bool,
) -> Graded {
    let mut graded = every_exercise(&submission.name, exercises, State::Tampered, &note);
    graded.isolated = isolated;
    graded
}

/// 评不了的一份作业（例如建不了沙箱）：每个练习 0 分，说明写着原因。
pub fn failed(student: &str, exercises: &[&'static Exercise], why: &str) -> Graded {
    let mut graded = every_exercise(student, exercises, State::Failed, why);
    graded.status = Status::Error;
    graded
}

/// 每个练习都是同一个状态、同一句说明，一个测试也没运行（0 分）。
fn every_exercise(
    student: &str,
    exercises: &[&'static Exercise],
    state: State,
    note: &str,
) -> Graded {
    let outcomes = exercises
        .iter()
        .map(|ex| {
            let mut outcome = not_started(ex, "");
            outcome.state = state;
            outcome.detail = note.to_string();
            outcome
        })
        .collect();
    Graded {
        student: student.to_string(),
        status: Status::Tampered,
        outcomes,
        note: note.to_string(),
        isolated: false,
    }
}
