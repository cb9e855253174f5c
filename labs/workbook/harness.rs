//! 评分用的程序（“评分工具”）：测试程序、它用到的实验程序，以及学生的练习编译时要用的依赖。
//!
//! 每个规格（一个提交的全部文件）只编译一次，在任何学生的代码运行之前，由评分器自己在编译的沙箱里
//! 编译（工具链、依赖的源码都只读，环境变量只有沙箱设的几个：评分机器上谁留下的 `.cargo/config.toml`、
//! `RUSTC_WRAPPER`、文件的修改时间都影响不了它）。目录里有：
//!
//! - `src/`：规格（提交里的全部文件），测试程序从这里读快照；
//! - `base/`：学生的练习编译时要用的依赖和练习册的库（带 exercises 特性）。每个学生编译时拿到
//!   它的一份副本：大文件是硬链接（只读），cargo 要改写的小文件是复制的；
//! - `target/`：测试程序和实验程序，只读地挂进测试的沙箱，从来不给学生的编译。
//!
//! 编译完，整个目录设为只读，记下每个文件的 inode、权限、大小和修改时间；`src/` 和 `target/` 里的文件
//! 还记下 ctime（任何写入、改权限、换文件都会改变它，用户程序改不回去），要运行的程序记下 SHA-256；
//! `base/` 里的文件记下内容的 SHA-256（它们会被硬链接出去，建硬链接本身会改变 ctime，所以不比 ctime）。
//! 学生的沙箱从来不能写这个目录。每次使用之前、每个学生评完之后都核对一遍；对不上就不再相信它，
//! 在一个新目录里从提交重新编译，而不是“下一次编译出来什么就用什么”。

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::grade::sha256_hex;
use crate::runner::{self, CargoMessages};
use crate::sandbox::{BuildRoom, Sandbox, TARGET};
use crate::tree::Tree;

/// 编译评分工具最多用多久（第一次要编译全部依赖）。
pub const BUILD_LIMIT: Duration = Duration::from_secs(900);

/// 目录布局改了就换一个值：旧的评分工具不再被认出来。
const LAYOUT: &str = "sandbox-2";

/// 一份编译好、核对过的评分工具。
pub struct Harness {
    pub dir: PathBuf,
    /// 工具链（沙箱外的路径）
    pub toolchain: PathBuf,
    /// 测试程序（沙箱外的路径）
    pub test_program: PathBuf,
    /// 测试用到的实验程序：（沙箱外的路径，程序名）
    pub labs: Vec<(PathBuf, String)>,
    manifest: Manifest,
}

/// 一个文件的指纹。
#[derive(Clone, PartialEq, Eq, Debug)]
struct Print {
    ino: u64,
    /// 权限（改了权限，比如把只读的文件改成可写，也算变了）
    mode: u32,
    size: u64,
    mtime: u64,
    /// 状态改变时间；硬链接出去的文件不比（建硬链接会改变它）
    ctime: Option<u64>,
    /// 内容的 SHA-256：要运行的程序和硬链接出去的文件才记
    sha256: Option<String>,
}

/// 编译完成时记下的一切。
struct Manifest {
    files: BTreeMap<String, Print>,
    toolchain: PathBuf,
    test_program: String,
    labs: Vec<String>,
}

impl Harness {
    /// 给规格 `tree` 准备评分工具：`work` 里已经有核对无误的就用它，否则在新目录里编译一份。
    /// 同时运行的几次评分（几个终端、Classroom 的几步）靠一把文件锁排队，只编译一次。
    pub fn ready(tree: &Tree, work: &Path, sandbox: &Sandbox) -> Result<Harness, String> {
        fs::create_dir_all(work).map_err(|err| format!("无法创建 {}：{err}", work.display()))?;
        let toolchain = toolchain_for(tree, work)?;
        let key = key(tree, &toolchain);
        let dir = work.join(format!("harness-{key}"));
        let lock_path = work.join(format!("harness-{key}.lock"));
        let lock = fs::File::create(&lock_path)
            .map_err(|err| format!("无法创建 {}：{err}", lock_path.display()))?;
        lock.lock()
            .map_err(|err| format!("锁不住 {}：{err}", lock_path.display()))?;
        // 以前哪次评分中途退出留下的半成品（编译到一半、删到一半的）：拿着锁，就没有别人在用它们
        let prefix = format!("harness-{key}.");
        for entry in fs::read_dir(work).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(&prefix) && !name.ends_with(".lock") {
                discard(&entry.path());
            }
        }
        if dir.exists() {
            match Harness::open(&dir).and_then(|h| h.verify(tree).map(|()| h)) {
                Ok(harness) => return Ok(harness),
                Err(why) => {
                    eprintln!(
                        "评分工具 {} 核对不上（{why}），从提交重新编译",
                        dir.display()
                    );
                    discard(&dir);
                }
            }
        }
        let harness = build(tree, &dir, &toolchain, sandbox)?;
        harness.verify(tree)?;
        Ok(harness)
    }

    /// 读出一份已有的评分工具（还没核对）。
    fn open(dir: &Path) -> Result<Harness, String> {
        let text =
            fs::read_to_string(dir.join(MANIFEST)).map_err(|err| format!("读不了清单：{err}"))?;
        let manifest = Manifest::parse(&text).ok_or("清单看不懂")?;
        Ok(Harness::from_manifest(dir, manifest))
    }

    fn from_manifest(dir: &Path, manifest: Manifest) -> Harness {
        Harness {
            dir: dir.to_path_buf(),
            toolchain: manifest.toolchain.clone(),
            test_program: dir.join(&manifest.test_program),
            labs: manifest
                .labs
                .iter()
                .map(|name| (dir.join(format!("target/debug/{name}")), name.clone()))
                .collect(),
            manifest,
        }
    }

    pub fn src(&self) -> PathBuf {
        self.dir.join("src")
    }

    pub fn vendor(&self) -> PathBuf {
        self.dir.join("vendor")
    }

    /// 核对：每个文件都和编译完时一样（见模块说明），没有多也没有少；
    /// 规格的每个文件和提交里的一字不差。
    pub fn verify(&self, tree: &Tree) -> Result<(), String> {
        let now = scan(&self.dir, &self.manifest.programs());
        if now != self.manifest.files {
            let changed: Vec<&String> = self
                .manifest
                .files
                .keys()
                .chain(now.keys())
                .filter(|path| self.manifest.files.get(*path) != now.get(*path))
                .take(5)
                .collect();
            return Err(format!("这些文件变了：{changed:?}"));
        }
        let differences = tree.differences(&self.src(), &BTreeMap::new());
        if !differences.is_empty() {
            return Err(format!("规格和提交不一致：{}", differences.join("、")));
        }
        Ok(())
    }

    /// 给一位学生的编译准备输出目录：`base/` 的一份副本（见模块说明）。
    pub fn student_target(&self, dest: &Path) -> Result<(), String> {
        let source = self.dir.join("base");
        copy_tree(&source, dest, &source, true)
    }
}

/// 清单的文件名（在评分工具目录的最上层）。
const MANIFEST: &str = "manifest.json";

/// 在 `dir` 编译一份评分工具：先在旁边的临时目录里做，全部成功、设为只读之后再改名。
fn build(tree: &Tree, dir: &Path, toolchain: &Path, sandbox: &Sandbox) -> Result<Harness, String> {
    let building = dir.with_extension(format!("building-{}", std::process::id()));
    discard(&building);
    let src = building.join("src");
    tree.sync(&src, &BTreeMap::new())?;
    let vendor = building.join("vendor");
    vendor_dependencies(&src, &vendor, toolchain)?;
    eprintln!("编译评分用的测试程序和依赖（每个规格一次，第一次要几分钟）……");
    // 1. 学生的练习和实验共用的库（带 exercises 特性）和它的依赖
    let base = building.join("base");
    let room = |target| BuildRoom {
        toolchain,
        vendor: &vendor,
        src: &src,
        overlays: &[],
        target,
    };
    fs::create_dir_all(&base).map_err(|err| format!("无法创建 {}：{err}", base.display()))?;
    let built = run_cargo(
        sandbox,
        &room(&base),
        &["build", "--features", "exercises", "--lib"],
    )?;
    if !built.success {
        return Err(format!("练习册的库编译失败：\n{}", built.all_errors()));
    }
    // 2. 测试程序和实验程序：从 base 的一份副本接着编译，依赖不用再编译一遍
    let target = building.join("target");
    copy_tree(&base, &target, &base, false)?;
    let tests = run_cargo(
        sandbox,
        &room(&target),
        &["test", "--no-run", "--test", "exercises"],
    )?;
    let inside = tests
        .executable("exercises")
        .ok_or_else(|| format!("评分用的测试程序编译失败：\n{}", tests.all_errors()))?;
    let test_program = outside(&inside)?;
    let labs: Vec<String> = runner::lab_names(&src)
        .into_iter()
        .filter(|name| target.join("debug").join(name).is_file())
        .collect();

    make_read_only(&building);
    fs::rename(&building, dir).map_err(|err| {
        format!(
            "无法把 {} 改名为 {}：{err}",
            building.display(),
            dir.display()
        )
    })?;
    let mut manifest = Manifest {
        files: BTreeMap::new(),
        toolchain: toolchain.to_path_buf(),
        test_program,
        labs,
    };
    manifest.files = scan(dir, &manifest.programs());
    // 目录本身只读：写清单时临时放开一下（改目录的权限不影响里面文件的指纹）
    let manifest_path = dir.join(MANIFEST);
    set_writable(dir, true);
    let written = fs::write(&manifest_path, manifest.to_json());
    set_writable(&manifest_path, false);
    set_writable(dir, false);
    written.map_err(|err| format!("写不了 {}：{err}", manifest_path.display()))?;
    Ok(Harness::from_manifest(dir, manifest))
}

/// 在编译的沙箱里运行一条 cargo 命令，收集它的 JSON 消息。
fn run_cargo(sandbox: &Sandbox, room: &BuildRoom, args: &[&str]) -> Result<CargoMessages, String> {
    let mut all = args.to_vec();
    all.extend(["--message-format=json", "--quiet"]);
    let prepared = sandbox.cargo(room, &all)?;
    runner::run_cargo(prepared.command, Some(&prepared.group), BUILD_LIMIT)?
        .ok_or_else(|| format!("编译评分工具超过了 {} 秒还没有结束", BUILD_LIMIT.as_secs()))
}

/// 沙箱里 `/target/...` 的路径在评分工具目录里的相对路径 `target/...`。
fn outside(inside: &Path) -> Result<String, String> {
    inside
        .strip_prefix(TARGET)
        .map(|rest| format!("target/{}", rest.display()))
        .map_err(|_| format!("测试程序不在 {TARGET} 里：{}", inside.display()))
}

/// 规格要用的工具链：在规格的目录里问 rustc（rustup 按 rust-toolchain.toml 选版本），
/// 得到它的 sysroot。沙箱里直接用这个目录里的 cargo 和 rustc，不经过 rustup。
fn toolchain_for(tree: &Tree, work: &Path) -> Result<PathBuf, String> {
    let probe = work.join("toolchain-probe");
    fs::create_dir_all(&probe).map_err(|err| format!("无法创建 {}：{err}", probe.display()))?;
    if let Some(pin) = tree.get("rust-toolchain.toml") {
        fs::write(probe.join("rust-toolchain.toml"), pin)
            .map_err(|err| format!("写不了 {}：{err}", probe.display()))?;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(&probe)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            format!("无法运行 rustc：{err}。请确认装好了 Rust 工具链（https://rustup.rs）")
        })?;
    if !output.status.success() {
        return Err(format!(
            "rustc --print sysroot 失败：{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let sysroot = fs::canonicalize(&sysroot).unwrap_or(sysroot);
    if !sysroot.join("bin/cargo").is_file() {
        return Err(format!(
            "工具链 {} 里没有 cargo：评分要用和 rustc 同一个工具链里的 cargo",
            sysroot.display()
        ));
    }
    Ok(sysroot)
}

/// 评分工具的名字：规格的全部文件、工具链和目录布局，任何一样变了就是另一份。
fn key(tree: &Tree, toolchain: &Path) -> String {
    let version = Command::new(toolchain.join("bin/rustc"))
        .arg("-vV")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let mut all = Vec::new();
    all.extend(LAYOUT.as_bytes());
    all.extend(&version);
    all.extend(toolchain.as_os_str().as_encoded_bytes());
    all.extend(tree.digest().as_bytes());
    sha256_hex(&all)[..16].to_string()
}

/// 把依赖的源码复制到 `vendor`（`cargo vendor`）：编译的沙箱里没有网络，也不用评分机器上
/// cargo 的缓存和设置。这一步在沙箱外运行（还没有任何学生的代码运行过），用教师自己的 cargo 设置
/// （例如国内的镜像源）；缓存里已有的依赖不用联网。
fn vendor_dependencies(src: &Path, vendor: &Path, toolchain: &Path) -> Result<(), String> {
    let cargo = toolchain.join("bin/cargo");
    let mut command = Command::new(&cargo);
    command
        .args(["vendor", "--locked", "--versioned-dirs", "--quiet"])
        .arg(vendor)
        .current_dir(src)
        .env("RUSTC", toolchain.join("bin/rustc"))
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|err| format!("无法运行 {}：{err}", cargo.display()))?;
    let mut said = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut said);
    }
    let status = child
        .wait()
        .map_err(|err| format!("cargo vendor 失败：{err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo vendor 失败（下载不了依赖？第一次评分需要联网，或者先在练习册里 cargo fetch）：{}",
            said.trim()
        ))
    }
}

/// 复制一棵编译输出。`link` 为真时（给学生的副本），`debug/deps/` 和 `debug/build/` 里的文件做硬链接，
/// 其余的小文件（cargo 要改写的锁、指纹）复制；为假时全部复制。
/// 编译出的程序（没有扩展名、可以执行）不给，构建脚本除外。
fn copy_tree(source: &Path, dest: &Path, top: &Path, link: bool) -> Result<(), String> {
    fs::create_dir_all(dest).map_err(|err| format!("无法创建 {}：{err}", dest.display()))?;
    let entries =
        fs::read_dir(source).map_err(|err| format!("读不了 {}：{err}", source.display()))?;
    for entry in entries.flatten() {
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|err| format!("读不了 {}：{err}", from.display()))?;
        let relative = from.strip_prefix(top).unwrap_or(&from);
        if kind.is_dir() {
            copy_tree(&from, &to, top, link)?;
            continue;
        }
        if !kind.is_file() || (is_program(&from) && !relative.starts_with("debug/build")) {
            continue;
        }
        let copied = if link && is_linked(relative) {
            fs::hard_link(&from, &to)
        } else {
            fs::copy(&from, &to).map(|_| set_writable(&to, true))
        };
        copied.map_err(|err| format!("无法复制 {}：{err}", from.display()))?;
    }
    Ok(())
}

/// 学生的副本里哪些文件是硬链接（相对于 `base/`）：依赖和库的产物、构建脚本和它们的输出。
fn is_linked(relative: &Path) -> bool {
    relative.starts_with("debug/deps") || relative.starts_with("debug/build")
}

/// 没有扩展名、可以执行的文件：编译出的程序。
fn is_program(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.extension().is_none()
            && fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.extension().is_some_and(|e| e == "exe")
    }
}

/// 目录里每个文件（相对路径，用 `/` 分隔）的指纹，清单本身除外。`programs` 是要算 SHA-256 的程序；
/// `base/` 里的文件也算 SHA-256、不记 ctime。
fn scan(dir: &Path, programs: &[String]) -> BTreeMap<String, Print> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            let name = name.join("/");
            if name == MANIFEST {
                continue;
            }
            // base/ 里的文件会被硬链接到学生的编译目录（cargo 自己也把 deps/ 里的产物硬链接到
            // debug/ 下），链接数一变 ctime 就变：这些文件比内容，不比 ctime
            let linked = relative.starts_with("base");
            let hashed = linked || programs.contains(&name);
            if let Some(print) = fingerprint(&path, !linked, hashed) {
                found.insert(name, print);
            }
        }
    }
    found
}

#[cfg(unix)]
fn fingerprint(path: &Path, with_ctime: bool, hashed: bool) -> Option<Print> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path).ok()?;
    let nanos = |s: i64, ns: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ns as u64)
    };
    Some(Print {
        ino: meta.ino(),
        mode: meta.mode(),
        size: meta.size(),
        mtime: nanos(meta.mtime(), meta.mtime_nsec()),
        ctime: with_ctime.then(|| nanos(meta.ctime(), meta.ctime_nsec())),
        sha256: hashed.then(|| sha256_file(path)),
    })
}

#[cfg(not(unix))]
fn fingerprint(path: &Path, _with_ctime: bool, hashed: bool) -> Option<Print> {
    let meta = fs::symlink_metadata(path).ok()?;
    Some(Print {
        ino: 0,
        mode: 0,
        size: meta.len(),
        mtime: 0,
        ctime: None,
        sha256: hashed.then(|| sha256_file(path)),
    })
}

fn sha256_file(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(_) => "（读不到）".into(),
    }
}

/// 整棵目录设为只读（文件和目录都是）：评分器自己以外谁也不该改它，连评分器自己也只在重新编译时删掉它。
fn make_read_only(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_read_only(&path);
            }
            set_writable(&path, false);
        }
    }
}

fn set_writable(path: &Path, writable: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::symlink_metadata(path) {
            if meta.file_type().is_symlink() {
                return;
            }
            let mode = meta.permissions().mode();
            let mode = if writable {
                mode | 0o200
            } else {
                mode & !0o222
            };
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, writable);
    }
}

/// 删掉一份不再可信（或者编译到一半）的评分工具。
pub fn discard(dir: &Path) {
    if !dir.exists() {
        return;
    }
    // 先改名：删到一半出错时，也不会被当成那份评分工具
    let doomed = dir.with_extension(format!("discarded-{}", std::process::id()));
    let target = if fs::rename(dir, &doomed).is_ok() {
        doomed
    } else {
        dir.to_path_buf()
    };
    // 只把目录改成可写就删得掉；文件的权限不碰（它们可能还有硬链接在别处）
    crate::grade::remove_anything(&target);
}

impl Manifest {
    fn programs(&self) -> Vec<String> {
        let mut programs: Vec<String> = self
            .labs
            .iter()
            .map(|n| format!("target/debug/{n}"))
            .collect();
        programs.push(self.test_program.clone());
        programs
    }

    fn to_json(&self) -> String {
        let files: serde_json::Map<String, Value> = self
            .files
            .iter()
            .map(|(path, p)| {
                (
                    path.clone(),
                    json!([p.ino, p.mode, p.size, p.mtime, p.ctime, p.sha256]),
                )
            })
            .collect();
        json!({
            "files": files,
            "toolchain": self.toolchain.to_string_lossy(),
            "test_program": self.test_program,
            "labs": self.labs,
        })
        .to_string()
    }

    fn parse(text: &str) -> Option<Manifest> {
        let value: Value = serde_json::from_str(text).ok()?;
        let files = value["files"]
            .as_object()?
            .iter()
            .map(|(path, v)| {
                let print = Print {
                    ino: v[0].as_u64()?,
                    mode: u32::try_from(v[1].as_u64()?).ok()?,
                    size: v[2].as_u64()?,
                    mtime: v[3].as_u64()?,
                    ctime: v[4].as_u64(),
                    sha256: v[5].as_str().map(String::from),
                };
                Some((path.clone(), print))
            })
            .collect::<Option<_>>()?;
        Some(Manifest {
            files,
            toolchain: PathBuf::from(value["toolchain"].as_str()?),
            test_program: value["test_program"].as_str()?.to_string(),
            labs: value["labs"]
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
        })
    }
}
