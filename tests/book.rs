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
    let pages = files_under(&book_dir(), "md");
    assert!(!pages.is_empty(), "book/ 里没有任何页面");
    pages
}

/// `dir` 下（含子目录）所有扩展名是 `ext` 的文件。
fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("读取目录") {
            let path = entry.expect("目录项").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|found| found == ext) {
                files.push(path);
            }
        }
    }
    files
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

/// 书里每一处让读者运行 `nc`、`ss` 或 `strace` 的地方，都要告诉 Windows 读者该怎么做
/// （或者说明它只在 Linux 上有）：这几个工具 Windows 都没有。
///
/// 说明里要出现 `Windows`、`ncat`、“Linux 的工具”或者指向前言的对照表（`preface.md#systems`）。
/// 命令写在一段文字或者一个列表项里时，说明必须就在这一段（这一项）里；命令写在代码块里时，
/// 说明可以在紧挨着它的上一段或下一段。前言本身就是那张对照表，不检查。
#[test]
fn every_nc_ss_or_strace_command_says_what_to_do_on_windows() {
    let command = |text: &str| {
        // 要读者运行的命令（带参数），而不是“像 `nc` 那样”这样顺带一提
        ["`nc ", "`ss ", "$ nc ", "$ ss ", "| nc ", "strace"]
            .iter()
            .any(|needle| text.contains(needle))
    };
    let explained = |text: &str| {
        ["Windows", "ncat", "Linux 的工具", "preface.md#systems"]
            .iter()
            .any(|needle| text.contains(needle))
    };
    let mut problems = Vec::new();
    for page in pages() {
        if page.file_name().is_some_and(|name| name == "preface.md") {
            continue;
        }
        let text = fs::read_to_string(&page).expect("读取页面");
        let blocks = blocks(&text);
        for (i, block) in blocks.iter().enumerate() {
            if !command(block) || explained(block) {
                continue;
            }
            let is_code = |block: &String| block.trim_start().starts_with("```");
            let neighbours_explain = is_code(block)
                && [i.checked_sub(1), Some(i + 1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| blocks.get(j))
                    .any(|near| explained(near));
            if !neighbours_explain {
                let first = block.lines().next().unwrap_or_default();
                problems.push(format!("{}：{first}", page.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "这些地方让读者运行 nc、ss 或 strace，却没说 Windows 上怎么办：\n{}",
        problems.join("\n")
    );
}

/// 把页面分成块：段落（空行分隔）、列表项（以 `- `、`1. ` 这样开头的行起头）各是一块，
/// 代码块（``` 之间，哪怕里面有空行）也是一块。
fn blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    let list_item = |line: &str| {
        let line = line.trim_start();
        line.starts_with("- ")
            || line
                .split_once(". ")
                .is_some_and(|(number, _)| number.parse::<u32>().is_ok())
    };
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        let starts_block = !in_code && (fence || list_item(line) || line.trim().is_empty());
        if starts_block && !current.trim().is_empty() {
            blocks.push(std::mem::take(&mut current));
        }
        if line.trim().is_empty() && !in_code {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if fence {
            in_code = !in_code;
            if !in_code {
                blocks.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.trim().is_empty() {
        blocks.push(current);
    }
    blocks
}

/// `{{#include}}` 不能缩进（比如写在列表项里的代码块中）：被引用进来的行从第 0 列开始，
/// 会提前结束那个列表项，代码块的结尾 ``` 又会开始一个新的代码块，把后面的标题整个吞掉。
#[test]
fn includes_are_not_indented() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("读取页面");
        for (number, line) in text.lines().enumerate() {
            if line.contains("{{#include") && line.starts_with([' ', '\t']) {
                problems.push(format!("{}:{}：{line}", page.display(), number + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "这些 include 缩进了，引用进来的代码会打乱页面的结构：\n{}",
        problems.join("\n")
    );
}

/// UDP 数据报在以太网（MTU 1500）上不被拆分的上限，IPv4 和 IPv6 不一样：
/// 1500 − 20（IPv4 头）− 8（UDP 头）= 1472，1500 − 40（IPv6 头）− 8 = 1452。
/// 书里提到 1472 的每一段（表格算一段）、图和实验源文件里提到 1472 的每个文件，
/// 都要同时给出 IPv6 的 1452，免得读者把 IPv4 的数字当成通用的。
#[test]
fn udp_size_limit_is_given_for_ipv4_and_ipv6() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut places: Vec<(PathBuf, String)> = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("读取页面");
        places.extend(blocks(&text).into_iter().map(|block| (page.clone(), block)));
    }
    let whole_files = files_under(&book_dir().join("img"), "svg")
        .into_iter()
        .chain(files_under(&root.join("labs"), "rs"));
    for file in whole_files {
        let text = fs::read_to_string(&file).expect("读取文件");
        places.push((file, text));
    }
    let problems: Vec<String> = places
        .iter()
        .filter(|(_, text)| text.contains("1472") && !text.contains("1452"))
        .map(|(file, text)| {
            let line = text.lines().find(|line| line.contains("1472"));
            format!("{}：{}", file.display(), line.unwrap_or_default().trim())
        })
        .collect();
    assert!(
        problems.is_empty(),
        "这些地方只给了 IPv4 的 1472 字节，没有同时给出 IPv6 的 1452 字节：\n{}",
        problems.join("\n")
    );
}

/// 书要能离线阅读：图都是仓库里的 SVG，不引用外部的文件、字体或网址。
/// 图里唯一允许出现的网址是 SVG 和 XLink 的命名空间；`href` 只能指向图内的 `#id`。
#[test]
fn diagrams_are_self_contained() {
    let mut problems = Vec::new();
    for svg in files_under(&book_dir().join("img"), "svg") {
        let text = fs::read_to_string(&svg).expect("读取图");
        let rest = text
            .replace("http://www.w3.org/2000/svg", "")
            .replace("http://www.w3.org/1999/xlink", "");
        let external_href = rest
            .split("href=\"")
            .skip(1)
            .any(|target| !target.starts_with('#'));
        for (found, what) in [
            (rest.contains("://"), "网址"),
            (external_href, "指向图外的 href"),
            (rest.contains("@import"), "@import"),
            (rest.contains("@font-face"), "@font-face"),
        ] {
            if found {
                problems.push(format!("{} 引用了外部资源（{what}）", svg.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
