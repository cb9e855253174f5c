//! 书和代码是同一份事实：书里的代码和运行记录都用 `{{#include}}` 从仓库里取。
//! 这里检查每一处引用都指向存在的文件和锚点，书里没有另外粘贴的 Rust 代码，
//! 图片和章节文件都存在。

use std::fs;
use std::path::{Path, PathBuf};

fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book")
}

/// book/ 下所有的 .md 文件。
fn pages() -> Vec<PathBuf> {
    let mut pages = Vec::new();
    let mut dirs = vec![book_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("读取 book/ 目录") {
            let path = entry.expect("目录项").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                pages.push(path);
            }
        }
    }
    assert!(!pages.is_empty(), "book/ 里没有任何页面");
    pages
}

/// 一个页面里所有 `{{#include …}}` 的参数，例如 `../labs/tcp/server.rs:main`。
fn includes(text: &str) -> Vec<String> {
    text.split("{{#include ")
        .skip(1)
        .map(|rest| {
            rest.split("}}")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

/// insta 快照文件开头 `---` 到 `---` 之间的头部有几行。
fn snapshot_header_lines(text: &str) -> usize {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("---"), "快照文件应当以 --- 开头");
    2 + lines
        .position(|line| line == "---")
        .expect("快照头部应当以 --- 结束")
}

/// 检查一处引用，返回发现的问题（没有问题时返回 None）。
fn check_include(page: &Path, spec: &str) -> Option<String> {
    let mut parts = spec.split(':');
    let file = page.parent().expect("页面所在目录").join(parts.next()?);
    let Ok(text) = fs::read_to_string(&file) else {
        return Some(format!("引用的文件不存在：{}", file.display()));
    };
    let selector: Vec<&str> = parts.collect();
    match selector.as_slice() {
        [] => None,
        [anchor] if anchor.parse::<usize>().is_err() => check_anchor(&text, anchor),
        [start, ..] => {
            let start: usize = start.parse().ok()?;
            if file.extension().is_some_and(|ext| ext == "snap") {
                let body = snapshot_header_lines(&text) + 1;
                if start != body {
                    return Some(format!(
                        "{} 的正文从第 {body} 行开始，引用却从第 {start} 行开始",
                        file.display()
                    ));
                }
            }
            let shown = text
                .lines()
                .skip(start - 1)
                .filter(|l| !l.trim().is_empty());
            (shown.count() == 0).then(|| format!("引用 {spec} 取到的内容是空的"))
        }
    }
}

fn check_anchor(text: &str, anchor: &str) -> Option<String> {
    let is_marker = |line: &str, marker: &str| {
        line.trim_end().ends_with(&format!("{marker}: {anchor}"))
            && line.trim_start().starts_with("//")
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| is_marker(l, "ANCHOR")) else {
        return Some(format!("找不到锚点 ANCHOR: {anchor}"));
    };
    let Some(end) = lines.iter().position(|l| is_marker(l, "ANCHOR_END")) else {
        return Some(format!("找不到锚点结束 ANCHOR_END: {anchor}"));
    };
    let body_lines = lines[start + 1..end.max(start + 1)].iter();
    (body_lines.filter(|l| !l.trim().is_empty()).count() == 0)
        .then(|| format!("锚点 {anchor} 之间没有内容"))
}

#[test]
fn every_include_names_an_existing_file_and_anchor() {
    let mut problems = Vec::new();
    let mut count = 0;
    for page in pages() {
        let text = fs::read_to_string(&page).expect("读取页面");
        for spec in includes(&text) {
            count += 1;
            if let Some(problem) = check_include(&page, &spec) {
                problems.push(format!(
                    "{}：{{{{#include {spec}}}}}：{problem}",
                    page.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "书里的引用有问题：\n{}",
        problems.join("\n")
    );
    assert!(count > 0, "书里一处 {{{{#include}}}} 都没有");
}

#[test]
fn rust_code_in_the_book_is_included_not_pasted() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("读取页面");
        let mut in_rust_block = false;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with("```") {
                in_rust_block =
                    !in_rust_block && trimmed.trim_start_matches('`').starts_with("rust");
                continue;
            }
            if in_rust_block && !trimmed.is_empty() && !trimmed.starts_with("{{#include") {
                problems.push(format!("{}:{}: {line}", page.display(), number + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "Rust 代码块里只能放 {{{{#include}}}}，不要直接粘贴代码：\n{}",
        problems.join("\n")
    );
}

#[test]
fn images_and_chapters_exist() {
    let mut missing = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("读取页面");
        // 形如 ](path) 的链接和图片：只检查本地文件（不含 :// 和 #开头的锚点）
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            let file = target.split('#').next().unwrap_or_default();
            if file.is_empty() || target.contains("://") {
                continue;
            }
            let path = page.parent().expect("页面所在目录").join(file);
            if !path.exists() {
                missing.push(format!("{} 链接到不存在的 {file}", page.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
