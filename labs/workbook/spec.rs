//! 规格清单：定义“什么算做对”的测试和快照的 SHA-256。
//! 评分前先核对，测试或快照被改过就拒绝给分，并指出是哪些文件。

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// 清单文件（相对仓库根目录）。
pub const MANIFEST: &str = "tests/spec.sha256";

/// 属于规格的文件：tests/ 下所有的 .rs 和 .snap，以及关掉快照自动改写的 .cargo/config.toml。
fn spec_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(".cargo/config.toml")];
    let mut dirs = vec![PathBuf::from("tests")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = dir.join(entry.file_name());
            if entry.path().is_dir() {
                dirs.push(relative);
            } else if relative
                .extension()
                .is_some_and(|e| e == "rs" || e == "snap")
            {
                files.push(relative);
            }
        }
    }
    files.sort();
    files
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 按当前文件算出的清单内容（`哈希  路径`，一行一个文件，和 sha256sum 的格式相同）。
pub fn current(root: &Path) -> String {
    spec_files(root)
        .iter()
        .map(|file| {
            let bytes = fs::read(root.join(file)).unwrap_or_default();
            format!("{}  {}\n", sha256_hex(&bytes), file.display())
        })
        .collect()
}

/// 和保存的清单比较，返回有出入的文件（空表示没有被改动）。
pub fn changed_files(root: &Path) -> Vec<String> {
    let saved = fs::read_to_string(root.join(MANIFEST)).unwrap_or_default();
    let now = current(root);
    let parse = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(hash, file)| (file.to_string(), hash.to_string()))
            .collect()
    };
    let (saved, now) = (parse(&saved), parse(&now));
    let mut changed: Vec<String> = now
        .iter()
        .filter(|entry| !saved.contains(entry))
        .map(|(file, _)| file.clone())
        .collect();
    changed.extend(
        saved
            .iter()
            .filter(|(file, _)| !now.iter().any(|(f, _)| f == file))
            .map(|(file, _)| format!("{file}（被删除）")),
    );
    changed
}
