//! 评分用的“规格”：练习册在某个 git 提交里的全部文件，读进内存。
//!
//! 评分从不相信磁盘上的工作目录：测试、快照、评分工具、Cargo.toml 和原始的练习文件
//! 都取自一个提交（默认是 HEAD），在另一个目录里铺成一份干净的练习册，
//! 只把学生的练习文件放进去。学生的程序运行之后，再拿内存里的这份和磁盘逐个字节比对：
//! 有任何出入（改了、删了、多了文件），就是篡改。

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

/// 工作目录里不属于规格、也不比对的目录：编译产物。
const BUILD_DIR: &str = "target";

/// 一份练习册的全部文件：相对路径（用 `/` 分隔）→ 内容。
pub struct Tree {
    /// 给人看的来源，例如 `git 提交 1a2b3c4d`
    pub source: String,
    files: BTreeMap<String, Vec<u8>>,
}

impl Tree {
    /// 读出 `root` 这个 git 仓库里 `rev`（例如 HEAD、一个标签或提交号）的全部文件。
    pub fn from_git(root: &Path, rev: &str) -> Result<Tree, String> {
        let commit = git(
            root,
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
        )
        .map_err(|err| format!("在 {} 里找不到提交 {rev}：{err}", root.display()))?;
        let commit = String::from_utf8_lossy(&commit).trim().to_string();
        let listing = git(root, &["ls-tree", "-r", "-z", "--full-tree", &commit])?;
        let mut entries = Vec::new();
        for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            // 格式：<mode> <type> <hash>\t<path>
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = meta.split(' ').collect();
            if fields.len() == 3 && fields[1] == "blob" && fields[0] != "120000" {
                entries.push((fields[2].to_string(), path.to_string()));
            }
        }
        let blobs = read_blobs(root, entries.iter().map(|(hash, _)| hash.clone()).collect())?;
        let files = entries
            .into_iter()
            .map(|(_, path)| path)
            .zip(blobs)
            .collect();
        Ok(Tree {
            source: format!("git 提交 {}", &commit[..12.min(commit.len())]),
            files,
        })
    }

    /// 维护者的工作目录（只给 selftest 用：它要检验还没提交的改动）。
    pub fn from_working_tree(root: &Path) -> Result<Tree, String> {
        let listed = git(
            root,
            &[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
        )?;
        let mut files = BTreeMap::new();
        for path in listed.split(|b| *b == 0).filter(|p| !p.is_empty()) {
            let path = String::from_utf8_lossy(path).to_string();
            let full = root.join(&path);
            if full.is_file() {
                let bytes = fs::read(&full).map_err(|err| format!("读不了 {path}：{err}"))?;
                files.insert(path, bytes);
            }
        }
        Ok(Tree {
            source: format!("工作目录 {}", root.display()),
            files,
        })
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// 全部文件（路径和内容）的 SHA-256：同样的规格得到同样的值，改了任何一个字节就不同。
    pub fn digest(&self) -> String {
        let mut all = Vec::new();
        for (path, bytes) in &self.files {
            all.extend(path.as_bytes());
            all.push(0);
            all.extend((bytes.len() as u64).to_le_bytes());
            all.extend(bytes);
        }
        crate::grade::sha256_hex(&all)
    }

    /// 目录 `dest` 应有的样子：规格的全部文件，其中 `overrides` 里的（学生的练习文件）换成给定内容。
    fn wanted<'a>(
        &'a self,
        overrides: &'a BTreeMap<String, Vec<u8>>,
    ) -> BTreeMap<&'a str, &'a [u8]> {
        let mut wanted: BTreeMap<&str, &[u8]> = self
            .files
            .iter()
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
            .collect();
        for (path, bytes) in overrides {
            wanted.insert(path.as_str(), bytes.as_slice());
        }
        wanted
    }

    /// 把 `dest` 变成一份干净的练习册：内容不同的文件重写，多出来的文件删掉，
    /// 内容相同的文件不碰（保留修改时间，cargo 就不会重新编译没变的东西）。
    /// 规格文件设为只读；`overrides` 里的文件（学生的练习）保持可写。
    pub fn sync(&self, dest: &Path, overrides: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
        let wanted = self.wanted(overrides);
        for extra in files_under(dest)
            .into_iter()
            .filter(|p| !wanted.contains_key(p.as_str()))
        {
            let path = dest.join(&extra);
            make_writable(&path);
            fs::remove_file(&path).map_err(|err| format!("删不掉 {}：{err}", path.display()))?;
        }
        for (path, bytes) in &wanted {
            let full = dest.join(path);
            let same = fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_file())
                && fs::read(&full).is_ok_and(|current| current == *bytes);
            if !same {
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|err| format!("无法创建 {}：{err}", parent.display()))?;
                }
                make_writable(&full);
                let _ = fs::remove_file(&full); // 也许是个符号链接或目录：先去掉
                fs::write(&full, bytes)
                    .map_err(|err| format!("写不了 {}：{err}", full.display()))?;
            }
            set_read_only(&full, !overrides.contains_key(*path));
        }
        Ok(())
    }

    /// 和 `dest` 逐个字节比对，返回有出入的文件（改过的、被删的、多出来的）。
    pub fn differences(&self, dest: &Path, overrides: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
        let wanted = self.wanted(overrides);
        let mut changed = Vec::new();
        for (path, bytes) in &wanted {
            let full = dest.join(path);
            let regular = fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_file());
            match fs::read(&full) {
                Ok(current) if regular && current == *bytes => {}
                Ok(_) => changed.push(format!("{path}（被改动）")),
                Err(_) => changed.push(format!("{path}（被删除）")),
            }
        }
        for extra in files_under(dest)
            .into_iter()
            .filter(|p| !wanted.contains_key(p.as_str()))
        {
            changed.push(format!("{extra}（多出来的文件）"));
        }
        changed
    }
}

/// `dir` 下的全部文件（相对路径，用 `/` 分隔），不含编译产物目录；符号链接也算一个文件。
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = fs::read_dir(dir.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = relative.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if path != Path::new(BUILD_DIR) {
                    pending.push(path);
                }
            } else {
                let text: Vec<String> = path
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().to_string())
                    .collect();
                found.push(text.join("/"));
            }
        }
    }
    found
}

/// 去掉一个文件的只读属性（好让我们自己覆盖或删掉它）；不是普通文件就什么也不做。
pub fn make_writable(path: &Path) {
    set_read_only(path, false);
}

/// 只读能挡住普通用户的程序（以 root 身份运行时挡不住，那时靠运行之后的比对发现）。
fn set_read_only(path: &Path, read_only: bool) {
    if let Ok(meta) = fs::symlink_metadata(path)
        && meta.file_type().is_file()
    {
        let mut permissions = meta.permissions();
        if permissions.readonly() != read_only {
            #[allow(clippy::permissions_set_readonly_false)] // 只是恢复成可写，好让我们自己覆盖它
            permissions.set_readonly(read_only);
            let _ = fs::set_permissions(path, permissions);
        }
    }
}

/// 运行一条 git 命令，返回它的标准输出。
fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            format!("无法运行 git：{err}（评分需要 git，并且要在练习册的 git 仓库里）")
        })?;
    if !output.status.success() {
        return Err(format!(
            "git {} 失败：{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

/// 用一个 `git cat-file --batch` 进程按顺序读出一批 blob 的内容。
fn read_blobs(root: &Path, hashes: Vec<String>) -> Result<Vec<Vec<u8>>, String> {
    let mut child = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("无法运行 git：{err}"))?;
    let mut stdin = child.stdin.take().ok_or("git 没有标准输入")?;
    let count = hashes.len();
    // 另开一个线程写请求，免得双方都在等对方读管道
    let writer = thread::spawn(move || {
        for hash in hashes {
            if writeln!(stdin, "{hash}").is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(child.stdout.take().ok_or("git 没有标准输出")?);
    let mut blobs = Vec::with_capacity(count);
    for _ in 0..count {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|err| format!("读 git 输出失败：{err}"))?;
        // 格式：<hash> blob <size>
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("git cat-file 的输出看不懂：{header}"))?;
        let mut bytes = vec![0u8; size + 1]; // 内容之后还有一个换行
        reader
            .read_exact(&mut bytes)
            .map_err(|err| format!("读 git 输出失败：{err}"))?;
        bytes.pop();
        blobs.push(bytes);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(blobs)
}
