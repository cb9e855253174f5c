//! 把检查结果写成给人看的表格、JSON 或 JUnit XML。

use serde_json::json;

use crate::runner::{Outcome, State};

/// 终端里一个字符占几列：汉字和全角符号占两列。
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if c as u32 >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// 把文字补齐到 `columns` 列宽（按终端里的显示宽度算）。
pub fn pad(text: &str, columns: usize) -> String {
    format!("{text}{}", " ".repeat(columns.saturating_sub(width(text))))
}

/// 进度条，例如 `[#####-----] 1/2`。
pub fn progress_bar(done: usize, total: usize) -> String {
    let slots = 20;
    let filled = (done * slots).checked_div(total).unwrap_or(0);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        "-".repeat(slots - filled)
    )
}

pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let header = ["练习", "名字", "状态", "测试", "得分"];
    let columns = [6, 14, 10, 8, 8];
    let row = |cells: [&str; 5]| {
        let cells: Vec<String> = cells.iter().zip(columns).map(|(c, w)| pad(c, w)).collect();
        format!("{}\n", cells.join(" ").trim_end())
    };
    out.push_str(&row(header));
    for o in outcomes {
        let tests = format!("{}/{}", o.passed_tests(), o.tests.len());
        let points = format!("{}/{}", o.points(), o.exercise.points);
        out.push_str(&row([
            o.exercise.id,
            o.exercise.name,
            o.state.label(),
            &tests,
            &points,
        ]));
    }
    let (total, max) = totals(outcomes);
    let passed = outcomes.iter().filter(|o| o.state == State::Passed).count();
    out.push_str(&format!(
        "\n总分 {total}/{max}   {}\n",
        progress_bar(passed, outcomes.len())
    ));
    out
}

pub fn totals(outcomes: &[Outcome]) -> (u32, u32) {
    let total = outcomes.iter().map(Outcome::points).sum();
    let max = outcomes.iter().map(|o| o.exercise.points).sum();
    (total, max)
}

pub fn json(outcomes: &[Outcome]) -> String {
    let (total, max) = totals(outcomes);
    let exercises: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({
                "id": o.exercise.id,
                "name": o.exercise.name,
                "title": o.exercise.title,
                "state": o.state.key(),
                "points": o.points(),
                "max_points": o.exercise.points,
                "tests_passed": o.passed_tests(),
                "tests_total": o.tests.len(),
                "tests": o.tests.iter().map(|t| json!({"name": t.name, "passed": t.passed})).collect::<Vec<_>>(),
                "detail": o.detail,
                "book": format!("book/{}", o.exercise.book),
                "seconds": (o.seconds * 10.0).round() / 10.0,
            })
        })
        .collect();
    let report = json!({
        "total": total,
        "max": max,
        "passed": outcomes.iter().filter(|o| o.state == State::Passed).count(),
        "exercises": exercises,
    });
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn junit(outcomes: &[Outcome]) -> String {
    let tests: usize = outcomes.iter().map(|o| o.tests.len().max(1)).sum();
    let failures = outcomes.iter().filter(|o| o.state != State::Passed).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"socket-workbook\" tests=\"{tests}\" failures=\"{failures}\">\n"
    );
    for o in outcomes {
        let class = xml_escape(&format!("练习 {} {}", o.exercise.id, o.exercise.title));
        let message = xml_escape(o.state.label());
        let detail = xml_escape(&o.detail);
        if o.tests.is_empty() {
            // 编译失败或超时：整个练习记成一个失败的测试
            out.push_str(&format!(
                "    <testcase classname=\"{class}\" name=\"{}\"><failure message=\"{message}\">{detail}</failure></testcase>\n",
                xml_escape(o.exercise.name)
            ));
        }
        for t in &o.tests {
            let name = xml_escape(&t.name);
            if t.passed {
                out.push_str(&format!(
                    "    <testcase classname=\"{class}\" name=\"{name}\"/>\n"
                ));
            } else {
                out.push_str(&format!(
                    "    <testcase classname=\"{class}\" name=\"{name}\"><failure message=\"{message}\">{detail}</failure></testcase>\n"
                ));
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
