//! 把仓库复制到别处：评分学生作业、证明参考答案能拿满分时，都在一份干净的副本里进行。

use std::fs;
use std::path::Path;
use std::process::Command;

/// 把 `root` 里受 git 管理的文件（以及没被忽略的新文件）复制到 `dest`，`dest` 原有内容先清空。
pub fn copy_workbook(root: &Path, dest: &Path) -> Result<(), String> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .map_err(|err| format!("无法运行 git ls-files：{err}（需要在 git 仓库里运行）"))?;
    if !listed.status.success() {
        return Err(format!(
            "git ls-files 失败：{}",
            String::from_utf8_lossy(&listed.stderr).trim()
        ));
    }
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(|err| format!("无法清空 {}：{err}", dest.display()))?;
    }
    for file in String::from_utf8_lossy(&listed.stdout)
        .split('\0')
        .filter(|f| !f.is_empty())
    {
        let (from, to) = (root.join(file), dest.join(file));
        if !from.is_file() {
            continue; // 已删除但还没提交的文件
        }
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|err| format!("无法创建 {}：{err}", parent.display()))?;
        }
        fs::copy(&from, &to).map_err(|err| format!("无法复制 {file}：{err}"))?;
    }
    Ok(())
}
