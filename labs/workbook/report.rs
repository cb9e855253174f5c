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

/// 分数：每个测试的分值是 0.25 的倍数（runner.rs 的 `shares`），所以最多两位小数，
/// 末尾的 0 不写（8.5、8.75、10）。
pub fn points(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    let text = format!("{rounded:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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
    if !graded.isolated {
        out.push_str(&format!("{UNISOLATED}：{UNISOLATED_WHY}\n"));
    }
    out
}

/// 没有在沙箱里评分的成绩上的标记。
pub const UNISOLATED: &str = "未隔离";
const UNISOLATED_WHY: &str =
    "学生的程序没有在沙箱里运行（--no-sandbox），它能读写评分器能读写的一切";

/// 一个班的简表（grade-folder 在终端里显示）。
pub fn class_table(rows: &[Graded]) -> String {
    let mut out = String::new();
    for graded in rows {
        out.push_str(&format!(
            "{} {} {}/{}{}\n",
            pad(&graded.student, 20),
            pad(graded.status.label(), 10),
            points(graded.total()),
            max_points(&graded.outcomes),
            if graded.isolated {
                String::new()
            } else {
                format!("  {UNISOLATED}")
            }
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
        // 学生的代码是不是在沙箱里编译、运行的；不是时 isolation 写着“未隔离”
        "isolated": graded.isolated,
        "isolation": if graded.isolated { "沙箱" } else { UNISOLATED },
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
/// 每个测试一项，通过的测试得到自己的那一份分（0.25 的倍数，见 runner.rs 的 `shares`），
/// 所以只通过一部分也有分，加起来也是精确的。
///
/// 说明只放在每个练习第一个没通过的测试上，最多 [`MAX_MESSAGE`] 字节：汇总报告从环境变量读结果，
/// Linux 上一个环境变量最多 128 KiB，几十个编译错误的原话就会超过，那样汇总报告根本启动不了。
pub fn classroom(graded: &Graded) -> String {
    use base64::Engine as _;
    let max: u32 = max_points(&graded.outcomes);
    let tests: Vec<_> = graded
        .outcomes
        .iter()
        .flat_map(|o| {
            let tampered = o.state == State::Tampered;
            let first_failure = o.tests.iter().position(|t| !t.passed || tampered);
            o.tests
                .iter()
                .zip(o.shares())
                .enumerate()
                .map(move |(i, (t, share))| {
                    let passed = t.passed && !tampered;
                    let message = if passed {
                        String::new()
                    } else if Some(i) == first_failure {
                        bounded(&format!("{}：{}", o.state.label(), o.detail))
                    } else {
                        format!(
                            "{}（说明见这个练习第一个没通过的测试，或者这一步的日志）",
                            o.state.label()
                        )
                    };
                    json!({
                        "name": format!("练习 {} · {}", o.exercise.id, t.title),
                        "status": if passed { "pass" } else { "fail" },
                        "score": if passed { share } else { 0.0 },
                        "message": message,
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

/// 让 GitHub Actions 把 `text` 原样显示在日志里，不当成工作流命令执行。
///
/// 说明里有学生写的东西（编译错误里的源码、程序打印的行），学生可以在里面写 `::error::…`、
/// `::add-mask::…` 这样的行。GitHub 认得 `::stop-commands::令牌`：之后的输出都不当命令，
/// 直到出现 `::令牌::`。令牌每次随机生成，学生猜不到，也就没法提前结束它。
pub fn without_workflow_commands(text: &str) -> String {
    let token: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!("::stop-commands::{token}\n{text}\n::{token}::\n")
}

/// GitHub Classroom 一条说明最多多少字节。
pub const MAX_MESSAGE: usize = 4000;

/// 太长的说明截断在一个字符的边界上，末尾说明还有多少、完整的在哪里。
fn bounded(text: &str) -> String {
    if text.len() <= MAX_MESSAGE {
        return text.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n……（后面还有 {} 字节，完整的说明在这一步的日志里）",
        &text[..end],
        text.len() - end
    )
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
    header.extend(["总分".into(), "满分".into(), "说明".into(), "隔离".into()]);
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
        row.push(
            if graded.isolated {
                "沙箱"
            } else {
                UNISOLATED
            }
            .to_string(),
        );
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
    fn points_show_at_most_two_decimals() {
        assert_eq!(points(8.75), "8.75");
        assert_eq!(points(8.5), "8.5");
        assert_eq!(points(10.0), "10");
        assert_eq!(points(0.0), "0");
        assert_eq!(points(110.0), "110");
        assert_eq!(points(-0.0 + 0.0), "0");
    }

    #[test]
    fn student_text_cannot_run_workflow_commands() {
        let text = "error: x\n::error title=满分::全部通过\n::add-mask::secret";
        let wrapped = without_workflow_commands(text);
        let lines: Vec<&str> = wrapped.lines().collect();
        let token = lines[0]
            .strip_prefix("::stop-commands::")
            .expect("第一行停下命令");
        assert_eq!(token.len(), 32);
        assert!(!text.contains(token));
        assert_eq!(lines.last(), Some(&format!("::{token}::").as_str()));
        assert!(wrapped.contains(text));
        assert_ne!(without_workflow_commands(text), wrapped, "令牌每次都不一样");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let text = "错".repeat(3000); // 9000 字节
        let cut = bounded(&text);
        assert!(cut.len() < MAX_MESSAGE + 200, "{}", cut.len());
        assert!(cut.contains("后面还有"), "{cut}");
        assert_eq!(bounded("短"), "短");
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
