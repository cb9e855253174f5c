//! 由实验文件生成练习文件：实验就是参考答案，练习是把其中标着
//! `// ANCHOR: exercise` … `// ANCHOR_END: exercise` 的部分换成 `todo!()` 和提示。
//! 同一个实验出两个练习时，各用自己的锚点名（例如 `exercise_relay`、`exercise_nick`）。
//! 这样练习和实验永远不会对不上。

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;

use crate::exercises::{Exercise, Target};

/// 根据实验源码生成练习文件的内容。
pub fn make_stub(ex: &Exercise, lab_source: &str) -> Result<String, String> {
    let mut out = header(ex);
    let mut lines = lab_source
        .lines()
        .skip_while(|line| line.starts_with("//!"));
    let start = format!("// ANCHOR: {}", ex.region);
    let end = format!("// ANCHOR_END: {}", ex.region);
    let mut regions = 0;
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == start {
            regions += 1;
            let indent = &line[..line.len() - line.trim_start().len()];
            if !lines.any(|l| l.trim() == end) {
                return Err(format!("{}：{start} 没有对应的 ANCHOR_END", ex.lab));
            }
            out.push_str(&todo_block(ex, indent, regions == 1));
        } else if trimmed.starts_with("// ANCHOR: ") || trimmed.starts_with("// ANCHOR_END: ") {
            // 书用的锚点、别的练习的锚点，在这个练习文件里都没有用处
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if regions == 0 {
        return Err(format!("{} 里没有 {start} 标记", ex.lab));
    }
    rustfmt(&out)
}

/// 用 rustfmt 排一遍版，这样生成的练习文件本身就能通过 cargo fmt --check。
fn rustfmt(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("无法运行 rustfmt：{err}（rustup component add rustfmt）"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt 没有标准输入")?;
    let input = source.to_string();
    // 另开一个线程写输入，免得输入输出都很大时双方互相等待
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|err| format!("rustfmt 出错：{err}"))?;
    let written = writer
        .join()
        .map_err(|_| "向 rustfmt 写入时出错".to_string())?;
    written.map_err(|err| format!("向 rustfmt 写入失败：{err}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt 失败：{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|err| format!("rustfmt 的输出不是 UTF-8：{err}"))
}

fn header(ex: &Exercise) -> String {
    let run = match ex.target {
        Target::Program { .. } => format!("//! - 运行你的版本：`{}`\n", ex.run_command()),
        // 模块没有 main：检查命令把它编进评分用的驱动程序，逐项运行测试
        Target::Module { .. } => {
            "//! - 它是一个模块，没有自己的 main：用下面的检查命令运行它的测试\n".to_string()
        }
    };
    format!(
        "//! # 练习 {id}：{title}\n\
         //!\n\
         //! 这个文件是 `{lab}` 的练习版：写着 `todo!(\"练习 {id}：…\")` 的地方被挖空了，\n\
         //! 请你把它补全，让程序和书中{section}的实验表现得一模一样。\n\
         //!\n\
         {run}\
         //! - 检查：`cargo run --bin workbook -- check {name}`\n\
         //! - 提示：`cargo run --bin workbook -- hint {name}`\n\
         //! - 重读：book/{book}\n\
         \n\
         // 练习还没完成时，有些变量和导入暂时用不上；完成以后可以删掉这一行。\n\
         #![allow(unused)]\n",
        id = ex.id,
        title = ex.title,
        lab = ex.lab,
        section = ex.section,
        name = ex.name,
        book = ex.book,
    )
}

/// 挖空处的提示和 `todo!()`。一个练习挖了好几处时，完整的提示只写在第一处。
fn todo_block(ex: &Exercise, indent: &str, first: bool) -> String {
    let mut block = String::new();
    if !first {
        block.push_str(&format!(
            "{indent}// TODO（练习 {}）：提示见本文件第一个 TODO\n",
            ex.id
        ));
        block.push_str(&format!("{indent}{}\n", ex.todo_marker()));
        return block;
    }
    for (i, hint) in ex.hint.lines().enumerate() {
        let label = if i == 0 {
            format!("TODO（练习 {}）：", ex.id)
        } else {
            String::new()
        };
        block.push_str(&format!("{indent}// {label}{}\n", hint.trim()));
    }
    block.push_str(&format!("{indent}{}\n", ex.todo_marker()));
    block
}
