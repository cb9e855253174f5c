//! 把检查结果写成给人看的表格、JSON 或 JUnit XML。

use serde_json::json;

use crate::exercises::ALL;
use crate::grade::{Graded, Status};
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

/// 分数：整数就不写小数点，否则保留一位小数（5/6 个测试通过、满分 10 → 8.3）。
pub fn points(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

fn max_points(outcomes: &[Outcome]) -> u32 {
    outcomes.iter().map(|o| o.exercise.points).sum()
}

/// 一份作业的分数表。
pub fn table(graded: &Graded) -> String {
    let mut out = String::new();
    let header = ["练习", "名字", "状态", "测试", "得分"];
    let columns = [6, 14, 10, 8, 8];
    let row = |cells: [&str; 5]| {
        let cells: Vec<String> = cells.iter().zip(columns).map(|(c, w)| pad(c, w)).collect();
        format!("{}\n", cells.join(" ").trim_end())
    };
    out.push_str(&row(header));
    for o in &graded.outcomes {
        let tests = format!("{}/{}", o.passed_tests(), o.tests.len());
        let score = format!("{}/{}", points(o.points()), o.exercise.points);
        out.push_str(&row([
            o.exercise.id,
            o.exercise.name,
            o.state.label(),
            &tests,
            &score,
        ]));
    }
    let passed = graded
        .outcomes
        .iter()
        .filter(|o| o.state == State::Passed)
        .count();
    out.push_str(&format!(
        "\n总分 {}/{}   {}\n",
        points(graded.total()),
        max_points(&graded.outcomes),
        progress_bar(passed, graded.outcomes.len())
    ));
    if graded.status != Status::Ok {
        out.push_str(&format!(
            "状态：{}。{}\n",
            graded.status.label(),
            graded.note
        ));
    }
    out
}

/// 一个班的简表（grade-folder 在终端里显示）。
pub fn class_table(rows: &[Graded]) -> String {
    let mut out = String::new();
    for graded in rows {
        out.push_str(&format!(
            "{} {} {}/{}\n",
            pad(&graded.student, 20),
            pad(graded.status.label(), 10),
            points(graded.total()),
            max_points(&graded.outcomes)
        ));
    }
    out
}

pub fn json(graded: &Graded, spec: &str) -> String {
    let exercises: Vec<_> = graded
        .outcomes
        .iter()
        .map(|o| {
            json!({
                "id": o.exercise.id,
                "name": o.exercise.name,
                "title": o.exercise.title,
                "state": o.state.key(),
                "points": (o.points() * 100.0).round() / 100.0,
                "max_points": o.exercise.points,
                "tests_passed": o.passed_tests(),
                "tests_total": o.tests.len(),
                "tests": o.tests.iter().map(|t| json!({"name": t.name, "title": t.title, "passed": t.passed})).collect::<Vec<_>>(),
                "first_failure": o.first_failure().map(|t| t.title.clone()),
                "detail": o.detail,
                "book": format!("book/{}", o.exercise.book),
                "seconds": (o.seconds * 10.0).round() / 10.0,
            })
        })
        .collect();
    let report = json!({
        "student": graded.student,
        "status": graded.status.key(),
        "note": graded.note,
        "spec": spec,
        "total": (graded.total() * 100.0).round() / 100.0,
        "max": max_points(&graded.outcomes),
        "passed": graded.outcomes.iter().filter(|o| o.state == State::Passed).count(),
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

pub fn junit(graded: &Graded) -> String {
    let outcomes = &graded.outcomes;
    let tests: usize = outcomes.iter().map(|o| o.tests.len().max(1)).sum();
    let failures: usize = outcomes
        .iter()
        .map(|o| o.tests.iter().filter(|t| !t.passed).count())
        .sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\">\n",
        xml_escape(&graded.student)
    );
    for o in outcomes {
        let class = xml_escape(&format!("练习 {} {}", o.exercise.id, o.exercise.title));
        let message = xml_escape(o.state.label());
        let detail = xml_escape(&o.detail);
        for t in &o.tests {
            let name = xml_escape(&t.title);
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

/// GitHub Classroom 的评分结果（和 classroom-resources 的评分 action 同一种格式），base64 编码：
/// 每个测试一项，通过的测试得到这个练习分数的相应份额，所以只通过一部分也有分。
pub fn classroom(graded: &Graded) -> String {
    use base64::Engine as _;
    let max: u32 = max_points(&graded.outcomes);
    let tests: Vec<_> = graded
        .outcomes
        .iter()
        .flat_map(|o| {
            let share = f64::from(o.exercise.points) / o.tests.len().max(1) as f64;
            let tampered = o.state == State::Tampered;
            o.tests.iter().map(move |t| {
                let passed = t.passed && !tampered;
                json!({
                    "name": format!("练习 {} · {}", o.exercise.id, t.title),
                    "status": if passed { "pass" } else { "fail" },
                    "score": if passed { share } else { 0.0 },
                    "message": if passed { String::new() } else { format!("{}：{}", o.state.label(), o.detail) },
                    "test_code": t.name,
                    "filename": o.exercise.stub,
                    "line_no": 0,
                    "duration": (o.seconds * 1000.0).round(),
                })
            })
        })
        .collect();
    let all_passed = graded.outcomes.iter().all(|o| o.state == State::Passed);
    let status = if graded.status == Status::Error {
        "error" // 评分本身出了错：Classroom 的汇总会把它显示成错误，而不是学生没做对
    } else if all_passed {
        "pass"
    } else {
        "fail"
    };
    let result = json!({
        "version": 1,
        "status": status,
        "max_score": max,
        "tests": tests,
    });
    base64::engine::general_purpose::STANDARD.encode(result.to_string())
}

/// 一个班的成绩表。`bom` 为真时开头加 UTF-8 的 BOM，中文版 Excel 双击打开也不会乱码。
pub fn csv(rows: &[Graded], bom: bool) -> String {
    let mut out = String::new();
    if bom {
        out.push('\u{feff}');
    }
    let mut header = vec!["学生".to_string(), "状态".to_string()];
    for ex in ALL {
        header.push(format!("练习 {} {}", ex.id, ex.name));
    }
    header.extend(["总分".into(), "满分".into(), "说明".into()]);
    out.push_str(&csv_row(&header));
    for graded in rows {
        let mut row = vec![graded.student.clone(), graded.status.label().to_string()];
        for ex in ALL {
            let score = graded
                .outcomes
                .iter()
                .find(|o| o.exercise.id == ex.id)
                .map_or(String::new(), |o| points(o.points()));
            row.push(score);
        }
        row.push(points(graded.total()));
        row.push(max_points(&graded.outcomes).to_string());
        row.push(graded.note.replace('\n', " "));
        out.push_str(&csv_row(&row));
    }
    out
}

fn csv_row(fields: &[String]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    format!("{}\r\n", fields.join(","))
}

/// 一个 CSV 字段：有逗号、引号、换行就加引号；以 = + - @ 开头的文字前面加一个 '，
/// 免得表格软件把学生起的文件夹名当成公式执行（CSV 注入）。
fn csv_field(text: &str) -> String {
    let is_number = text.parse::<f64>().is_ok();
    let text = if !is_number && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_points_keep_one_decimal() {
        assert_eq!(points(10.0 * 5.0 / 6.0), "8.3");
        assert_eq!(points(10.0), "10");
        assert_eq!(points(0.0), "0");
        assert_eq!(points(2.5), "2.5");
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("张三"), "张三");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-3"), "-3");
    }
}
