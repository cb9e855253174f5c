//! GitHub Classroom 的自动评分工作流 `.github/workflows/classroom.yml`。
//!
//! 评分不在学生的仓库里进行：工作流把教师的模板仓库在一个固定的提交上取到 `template/`，
//! 用那里的评分器给 `submission/`（学生的仓库）里的练习文件评分。学生改动自己仓库里的测试、
//! 快照、评分器或 Cargo.toml，都碰不到评分。学生的代码在沙箱里编译和运行，和教师自己评分时一样
//! （GitHub 的机器上装好 bubblewrap、允许建用户命名空间）。每个练习一步，结果交给 Classroom 的汇总报告。
//!
//! 每个练习都要带着一个结果到达汇总报告：评分步骤不因为前面的步骤失败而跳过；一步超时或出错，
//! 汇总报告拿到的是事先写好的 0 分结果（说明原因），而不是空字符串（那样汇总报告整个失败，谁的分都不报）。
//! 评分器的时限加起来小于每一步的时限，所以评分器总是自己先报告超时。
//!
//! 工作流由 [`workflow`] 根据练习清单生成：`cargo run --bin workbook -- classroom` 写入，
//! `--check` 核对它没有过期（CI 和 `selftest` 都会核对）。

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use crate::exercises::{ALL, Exercise};
use crate::harness;
use crate::runner;

/// 工作流文件在仓库里的位置（GitHub Classroom 认这个文件名）。
pub const PATH: &str = ".github/workflows/classroom.yml";

/// 以前的 Classroom 配置：在学生自己的仓库里评分，学生能改测试和评分器。生成新工作流时删掉它。
const LEGACY: &str = ".github/classroom/autograding.json";

/// 工作流的开头：说明、触发条件、权限、准备工作（检查组织变量、取仓库、装工具链、缓存、编译评分器）。
const HEAD: &str = r#"# GitHub Classroom 自动评分（Socket 编程练习册）
#
# 本文件由 `cargo run --bin workbook -- classroom` 生成，不要手改：改了练习清单
# （labs/workbook/exercises.rs）或生成器（labs/workbook/classroom.rs）之后重新生成。
#
# 学生每次推送，它在 GitHub 的机器上：
#   1. 把学生的仓库取到 submission/，把教师的模板仓库在一个固定的提交上取到 template/；
#   2. 用 template/ 里的评分器逐个练习评分：只从学生的仓库里拿练习文件，测试、快照、
#      评分器和 Cargo.toml 都来自模板的那个提交，学生在自己仓库里改动它们不影响分数；
#   3. 把每个练习、每个测试的得分交给 GitHub Classroom（通过几个测试就得几份分）。
#
# 教师在组织里设置两个变量（组织的 Settings → Secrets and variables → Actions → Variables；
# 学生改不了组织变量）：
#   WORKBOOK_TEMPLATE      模板仓库，写成 owner/name，例如 my-course/socket-workbook
#   WORKBOOK_TEMPLATE_REF  评分用的模板提交：完整的 40 位十六进制 commit id（不能是分支名）
# 模板仓库是私有仓库时，再设一个组织机密 WORKBOOK_TEMPLATE_TOKEN：只能读模板仓库的令牌。
# 详见书的附录《教师指南》一节“GitHub Classroom”。

# 名字和 GitHub Classroom 自己生成的工作流一样
name: Autograding Tests

on:
  push:
  workflow_dispatch:
  repository_dispatch:

permissions:
  checks: write
  actions: read
  contents: read

jobs:
  run-autograding-tests:
    name: 自动评分
    runs-on: ubuntu-latest
    # Classroom 建仓库时的第一次推送不评分
    if: github.actor != 'github-classroom[bot]'
    # 每一步都用满自己的时限也来得及跑完汇总报告
    timeout-minutes: @JOB_MINUTES@
    defaults:
      run:
        shell: bash
    env:
      WORKBOOK_TEMPLATE: ${{ vars.WORKBOOK_TEMPLATE }}
      WORKBOOK_TEMPLATE_REF: ${{ vars.WORKBOOK_TEMPLATE_REF }}
      # 评分时绝不改写快照（模板的 .cargo/config.toml 只在 template/ 里面运行 cargo 时才生效）
      INSTA_UPDATE: "no"
    steps:
      - name: 检查组织变量 WORKBOOK_TEMPLATE 和 WORKBOOK_TEMPLATE_REF
        run: |
          ok=true
          where="组织的 Settings → Secrets and variables → Actions → Variables"
          if [ -z "$WORKBOOK_TEMPLATE" ]; then
            echo "::error title=缺少组织变量 WORKBOOK_TEMPLATE::没有设置组织变量 WORKBOOK_TEMPLATE（或者它没有对这个仓库开放）。请在${where}里把它设成模板仓库，写成 owner/name。"
            ok=false
          elif ! [[ "$WORKBOOK_TEMPLATE" =~ ^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$ ]]; then
            echo "::error title=组织变量 WORKBOOK_TEMPLATE 的格式不对::它应当是模板仓库的 owner/name，例如 my-course/socket-workbook，现在是“${WORKBOOK_TEMPLATE}”。"
            ok=false
          fi
          if [ -z "$WORKBOOK_TEMPLATE_REF" ]; then
            echo "::error title=缺少组织变量 WORKBOOK_TEMPLATE_REF::没有设置组织变量 WORKBOOK_TEMPLATE_REF（或者它没有对这个仓库开放）。请在${where}里把它设成评分用的模板提交：完整的 40 位十六进制 commit id。"
            ok=false
          elif ! [[ "$WORKBOOK_TEMPLATE_REF" =~ ^[0-9a-fA-F]{40}$ ]]; then
            echo "::error title=组织变量 WORKBOOK_TEMPLATE_REF 不是完整的 commit id::它必须是 40 位十六进制的 commit id（分支名、标签和缩写都不行：评分要钉在一个不会变的提交上），现在是“${WORKBOOK_TEMPLATE_REF}”。"
            ok=false
          fi
          if [ "$ok" != true ]; then
            echo "评分没有开始：这是课程设置的问题，和你的代码无关，请把这条消息转告老师。"
            exit 1
          fi
          echo "评分用模板 ${WORKBOOK_TEMPLATE} 的提交 ${WORKBOOK_TEMPLATE_REF}"

      - name: 取出学生的仓库（submission/）
        uses: actions/checkout@v4
        with:
          path: submission
          persist-credentials: false

      - name: 取出模板仓库的固定提交（template/）
        id: template
        uses: actions/checkout@v4
        with:
          repository: ${{ vars.WORKBOOK_TEMPLATE }}
          ref: ${{ vars.WORKBOOK_TEMPLATE_REF }}
          token: ${{ secrets.WORKBOOK_TEMPLATE_TOKEN || github.token }}
          path: template
          persist-credentials: false

      - name: 说明为什么取不到模板
        if: failure() && steps.template.outcome == 'failure'
        run: |
          echo "::error title=取不到模板仓库::取不到 ${WORKBOOK_TEMPLATE} 的提交 ${WORKBOOK_TEMPLATE_REF}。请老师检查：仓库名是否写对；这个提交是否已经推送到模板仓库；模板仓库是私有的时候，是否设置了组织机密 WORKBOOK_TEMPLATE_TOKEN（能读模板仓库的令牌）。"
          echo "评分没有开始：这是课程设置的问题，和你的代码无关，请把这条消息转告老师。"
          exit 1

      - name: 安装 template/rust-toolchain.toml 固定的 Rust 工具链
        working-directory: template
        run: |
          # rustup 1.28 起不再自动安装，要在放着 rust-toolchain.toml 的目录里不带参数运行
          # rustup toolchain install；更早的 rustup 不认这个写法，但 rustup show 会自动安装。
          rustup toolchain install || rustup show
          toolchain="$(rustup show active-toolchain | cut -d ' ' -f 1)"
          # 之后的 cargo 在 template/ 外面运行，用环境变量把同一个工具链带过去
          echo "RUSTUP_TOOLCHAIN=${toolchain}" >> "$GITHUB_ENV"
          rustc --version
          cargo --version

      - name: 恢复 cargo 的缓存
        id: cache
        uses: actions/cache/restore@v4
        with:
          path: |
            ~/.cargo/registry
            ~/.cargo/git
            template/target
          key: workbook-${{ runner.os }}-${{ hashFiles('template/Cargo.lock', 'template/rust-toolchain.toml') }}
          restore-keys: |
            workbook-${{ runner.os }}-

      - name: 安装 bubblewrap，允许普通用户建用户命名空间（评分的沙箱要用）
        run: |
          if ! command -v bwrap >/dev/null; then
            sudo apt-get update -qq
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
          fi
          # Ubuntu 23.10 起，AppArmor 默认不许普通用户建用户命名空间，沙箱就建不起来
          if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" = "1" ]; then
            sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
          fi
          bwrap --version

      - name: 编译评分器
        run: cargo build --locked --manifest-path template/Cargo.toml --bin workbook

      # 缓存在运行任何学生代码之前保存：学生的程序改不了以后评分用的缓存
      - name: 保存 cargo 的缓存
        if: steps.cache.outputs.cache-hit != 'true'
        uses: actions/cache/save@v4
        with:
          path: |
            ~/.cargo/registry
            ~/.cargo/git
            template/target
          key: ${{ steps.cache.outputs.cache-primary-key }}

      # 在任何学生的代码运行之前：试建一次沙箱，在编译的沙箱里编译评分用的测试程序和依赖
      - name: 准备评分的沙箱和评分工具
        id: prepare
        timeout-minutes: @PREPARE_MINUTES@
        run: @PREPARE@
"#;

/// 运行评分器：在 $GITHUB_WORKSPACE 里运行，评分器和规格来自 template/，评分工具放在 RUNNER_TEMP 里。
const WORKBOOK: &str =
    "cargo run --quiet --locked --manifest-path template/Cargo.toml --bin workbook --";

/// 评分器的共同参数：规格钉在组织变量给的提交上，评分工具和编译输出放在 RUNNER_TEMP 里。
const SPEC: &str =
    "--spec-ref \"$WORKBOOK_TEMPLATE_REF\" --work-dir \"$RUNNER_TEMP/workbook-grading\"";

/// 每一步评分要等到这些都确实结束：学生的编译、测试、没通过的测试再跑一次，再加两分钟
/// 给评分工具的核对、复制和评分器自己的启动。评分器的时限加起来小于这一步的时限，
/// 所以它总能自己报告超时。
const GRADING_MARGIN_SECONDS: u64 = 120;

/// 一步评分的时限（分钟）。
pub fn grading_step_minutes() -> u64 {
    let seconds = runner::STUDENT_BUILD_LIMIT.as_secs()
        + 2 * runner::TEST_LIMIT.as_secs()
        + GRADING_MARGIN_SECONDS;
    seconds.div_ceil(60)
}

/// 准备评分工具那一步的时限（分钟）：编译评分工具的时限，加上下载依赖（cargo vendor）的五分钟。
pub fn prepare_step_minutes() -> u64 {
    (harness::BUILD_LIMIT.as_secs() + 300).div_ceil(60)
}

/// 整个作业的时限：准备工作 20 分钟，加上每一步都用满时限。
fn job_minutes() -> u64 {
    20 + prepare_step_minutes() + grading_step_minutes() * ALL.len() as u64
}

/// 评分步骤和汇总报告的运行条件：准备工作成功了就运行，前面的评分步骤失败、超时也照样运行；
/// 整个作业被取消时不运行。
const AFTER_PREPARE: &str = "${{ !cancelled() && steps.prepare.outcome == 'success' }}";

/// 一个练习在工作流里的步骤 id（只有字母和数字，汇总报告靠它找 `<ID>_RESULTS`）：`2.1` → `ex21`。
pub fn step_id(ex: &Exercise) -> String {
    format!("ex{}", ex.id.replace('.', ""))
}

/// 汇总报告读取一个练习结果的环境变量名：`ex21` → `EX21_RESULTS`。
fn results_var(ex: &Exercise) -> String {
    format!("{}_RESULTS", step_id(ex).to_uppercase())
}

/// 一个练习的评分命令：评分器在标准输出上打印一行 `result=…`，写进这一步的输出。
fn grade_command(ex: &Exercise) -> String {
    format!(
        "{WORKBOOK} grade submission {SPEC} --exercise {} --format classroom >> \"$GITHUB_OUTPUT\"",
        ex.name
    )
}

/// 一步没有交出结果时（超时、出错、被跳过），汇总报告拿到的结果：每个测试 0 分，写明原因。
pub fn fallback_result(ex: &Exercise) -> String {
    use base64::Engine as _;
    let tests: Vec<serde_json::Value> = ex
        .tests
        .iter()
        .map(|(name, title)| {
            serde_json::json!({
                "name": format!("练习 {} · {title}", ex.id),
                "status": "fail",
                "score": 0,
                "message": "这一步没有交出评分结果（超时、出错或被取消）：这个练习记 0 分。\
                            和你的代码也许无关，请把这一步的日志转告老师，由老师重评。",
                "test_code": format!("{}{name}", ex.test_prefix()),
                "filename": ex.stub,
                "line_no": 0,
                "duration": 0,
            })
        })
        .collect();
    let result = serde_json::json!({
        "version": 1,
        "status": "error",
        "max_score": ex.points,
        "tests": tests,
    });
    base64::engine::general_purpose::STANDARD.encode(result.to_string())
}

/// `${{ … }}` 表达式。
fn expr(inner: &str) -> String {
    format!("${{{{ {inner} }}}}")
}

/// YAML 的双引号字符串（JSON 字符串也是合法的 YAML）。
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// 生成 `.github/workflows/classroom.yml` 的全文。
pub fn workflow() -> String {
    let mut out = HEAD
        .replace("@JOB_MINUTES@", &job_minutes().to_string())
        .replace("@PREPARE_MINUTES@", &prepare_step_minutes().to_string())
        .replace("@PREPARE@", &format!("{WORKBOOK} prepare {SPEC}"));
    for ex in ALL {
        let name = format!("练习 {}：{}（{} 分）", ex.id, ex.title, ex.points);
        out.push('\n');
        out.push_str(&format!("      - name: {}\n", quote(&name)));
        out.push_str(&format!("        id: {}\n", step_id(ex)));
        out.push_str(&format!("        if: {AFTER_PREPARE}\n"));
        out.push_str(&format!(
            "        timeout-minutes: {}\n",
            grading_step_minutes()
        ));
        out.push_str(&format!("        run: {}\n", grade_command(ex)));
    }
    let ids: Vec<String> = ALL.iter().map(step_id).collect();
    out.push('\n');
    out.push_str("      - name: 汇总分数，报告给 GitHub Classroom\n");
    out.push_str("        # 准备工作没成功就什么也没评，不报告（前面的步骤已经说明了原因）\n");
    out.push_str(&format!("        if: {AFTER_PREPARE}\n"));
    out.push_str("        uses: classroom-resources/autograding-grading-reporter@v1\n");
    out.push_str("        env:\n");
    for ex in ALL {
        // 这一步没有交出结果时，用事先写好的 0 分结果
        let output = format!(
            "steps.{}.outputs.result || '{}'",
            step_id(ex),
            fallback_result(ex)
        );
        out.push_str(&format!(
            "          {}: {}\n",
            results_var(ex),
            expr(&output)
        ));
    }
    out.push_str("        with:\n");
    out.push_str(&format!("          runners: {}\n", ids.join(",")));
    out
}

/// `workbook classroom`：写入工作流（并删掉旧的配置）；`check_only` 时只核对、不写入。
pub fn sync(root: &Path, check_only: bool) -> Result<ExitCode, String> {
    let wanted = workflow();
    let current = fs::read_to_string(root.join(PATH)).unwrap_or_default();
    let legacy = root.join(LEGACY);
    if current == wanted && !legacy.exists() {
        println!("{PATH} 和练习清单一致");
        return Ok(ExitCode::SUCCESS);
    }
    if check_only {
        return Err(if current != wanted {
            format!("{PATH} 过期了：运行 cargo run --bin workbook -- classroom 重新生成")
        } else {
            format!(
                "{LEGACY} 是旧的评分配置（在学生自己的仓库里评分），请删掉它：\
                 运行 cargo run --bin workbook -- classroom"
            )
        });
    }
    let file = root.join(PATH);
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|err| format!("创建 {} 失败：{err}", dir.display()))?;
    }
    fs::write(&file, wanted).map_err(|err| format!("写不了 {PATH}：{err}"))?;
    println!("已生成 {PATH}");
    if legacy.exists() {
        fs::remove_file(&legacy).map_err(|err| format!("删不掉 {LEGACY}：{err}"))?;
        if let Some(dir) = legacy.parent() {
            // 目录空了就一起删掉；不空（还有别的文件）就留着
            let _ = fs::remove_dir(dir);
        }
        println!("已删除旧的 {LEGACY}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 工作流里的一步：从 `      - ` 开始，到下一步之前的所有行。
    struct Step {
        lines: Vec<String>,
    }

    impl Step {
        /// `key: value` 这一行的值（只看这一步自己的那层缩进）。
        fn field(&self, key: &str) -> Option<&str> {
            let first = format!("      - {key}: ");
            let other = format!("        {key}: ");
            self.lines.iter().find_map(|line| {
                line.strip_prefix(&first)
                    .or_else(|| line.strip_prefix(&other))
            })
        }

        fn text(&self) -> String {
            self.lines.join("\n")
        }
    }

    fn steps(yaml: &str) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        let mut inside = false;
        for line in yaml.lines() {
            if line == "    steps:" {
                inside = true;
                continue;
            }
            if !inside {
                continue;
            }
            if line.starts_with("      - ") {
                steps.push(Step { lines: Vec::new() });
            }
            if let Some(step) = steps.last_mut() {
                step.lines.push(line.to_string());
            }
        }
        steps
    }

    fn grading_steps(yaml: &str) -> Vec<Step> {
        steps(yaml)
            .into_iter()
            .filter(|s| s.field("id").is_some_and(|id| id.starts_with("ex")))
            .collect()
    }

    #[test]
    fn one_step_per_exercise_in_order_with_points_and_command() {
        let yaml = workflow();
        let graded = grading_steps(&yaml);
        assert_eq!(graded.len(), ALL.len(), "每个练习一步");
        for (step, ex) in graded.iter().zip(ALL) {
            let id = step.field("id").unwrap_or_default();
            assert_eq!(id, step_id(ex));
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric()),
                "汇总报告只接受字母和数字的步骤 id：{id}"
            );
            let name = step.field("name").unwrap_or_default();
            assert!(name.contains(&format!("练习 {}：", ex.id)), "{name}");
            assert!(name.contains(ex.title), "{name}");
            assert!(name.contains(&format!("（{} 分）", ex.points)), "{name}");
            assert_eq!(
                step.field("run"),
                Some(
                    format!(
                        "cargo run --quiet --locked --manifest-path template/Cargo.toml \
                         --bin workbook -- grade submission --spec-ref \"$WORKBOOK_TEMPLATE_REF\" \
                         --work-dir \"$RUNNER_TEMP/workbook-grading\" \
                         --exercise {} --format classroom >> \"$GITHUB_OUTPUT\"",
                        ex.name
                    )
                    .as_str()
                )
            );
            // 前面的评分步骤失败、超时，这一步也照样运行；准备工作没成功就不运行
            assert_eq!(step.field("if"), Some(AFTER_PREPARE));
            assert_eq!(
                step.field("timeout-minutes"),
                Some(grading_step_minutes().to_string().as_str())
            );
        }
    }

    /// 评分器自己的时限（编译、测试、没通过的再跑一次）加起来小于一步的时限：
    /// 评分器总能自己报告超时，而不是被 GitHub 从外面停掉、什么也没交出来。
    #[test]
    fn grader_limits_fit_inside_the_step_timeout() {
        let grader = runner::STUDENT_BUILD_LIMIT + 2 * runner::TEST_LIMIT;
        assert!(
            grader.as_secs() + 60 < grading_step_minutes() * 60,
            "评分器最多用 {} 秒，一步的时限是 {} 分钟",
            grader.as_secs(),
            grading_step_minutes()
        );
        assert!(harness::BUILD_LIMIT.as_secs() + 60 < prepare_step_minutes() * 60);
        let steps = prepare_step_minutes() + grading_step_minutes() * ALL.len() as u64;
        assert!(
            steps < job_minutes(),
            "整个作业的时限要容得下每一步都用满时限"
        );
        assert!(
            job_minutes() <= 360,
            "GitHub 托管的机器上一个作业最多 360 分钟"
        );
    }

    /// 一步没交出结果时的 0 分结果：能解码，满分和测试个数对得上，每个测试 0 分、写明原因。
    #[test]
    fn fallback_results_decode_to_zero_points_with_a_reason() {
        use base64::Engine as _;
        for ex in ALL {
            let encoded = fallback_result(ex);
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&encoded)
                .expect("base64");
            let result: serde_json::Value = serde_json::from_slice(&decoded).expect("JSON");
            assert_eq!(result["max_score"], ex.points);
            assert_eq!(result["status"], "error");
            let tests = result["tests"].as_array().expect("tests");
            assert_eq!(tests.len(), ex.tests.len());
            for t in tests {
                assert_eq!(t["score"], 0);
                assert!(t["message"].as_str().is_some_and(|m| m.contains("0 分")));
            }
            assert!(
                !encoded.contains('\''),
                "要放进 YAML 的单引号字符串里：{encoded}"
            );
        }
    }

    #[test]
    fn step_ids_are_unique() {
        let mut ids: Vec<String> = ALL.iter().map(step_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len(), "两个练习的步骤 id 撞了：{ids:?}");
    }

    #[test]
    fn reporter_lists_every_step_and_maps_every_result() {
        let yaml = workflow();
        let all = steps(&yaml);
        let reporter = all.last().expect("工作流里有步骤");
        assert_eq!(
            reporter.field("uses"),
            Some("classroom-resources/autograding-grading-reporter@v1")
        );
        // 准备工作没成功（组织变量没设、取不到模板、建不了沙箱）就什么也没评：不报告
        assert_eq!(reporter.field("if"), Some(AFTER_PREPARE));
        let ids: Vec<String> = ALL.iter().map(step_id).collect();
        let runners = reporter
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("          runners: "))
            .expect("汇总报告有 runners");
        assert_eq!(runners, ids.join(","));
        for ex in ALL {
            let line = format!(
                "          {}_RESULTS: ${{{{ steps.{}.outputs.result || '{}' }}}}",
                step_id(ex).to_uppercase(),
                step_id(ex),
                fallback_result(ex)
            );
            assert!(
                reporter.lines.contains(&line),
                "汇总报告缺少 {line}：\n{}",
                reporter.text()
            );
        }
        let mapped = reporter
            .lines
            .iter()
            .filter(|l| l.contains(".outputs.result || '"))
            .count();
        assert_eq!(mapped, ALL.len(), "汇总报告只读练习的结果");
    }

    #[test]
    fn template_comes_from_the_organisation_variables_not_the_student() {
        let yaml = workflow();
        let all = steps(&yaml);
        let checkouts: Vec<&Step> = all
            .iter()
            .filter(|s| s.field("uses") == Some("actions/checkout@v4"))
            .collect();
        assert_eq!(checkouts.len(), 2, "取两个仓库：学生的和模板");

        let template = checkouts
            .iter()
            .find(|s| s.text().contains("path: template"))
            .expect("有一步把模板取到 template/");
        let text = template.text();
        assert!(text.contains("repository: ${{ vars.WORKBOOK_TEMPLATE }}"));
        assert!(text.contains("ref: ${{ vars.WORKBOOK_TEMPLATE_REF }}"));
        assert!(!text.contains("github.repository"), "模板不能取学生的仓库");
        assert!(!text.contains("github.sha"));

        let student = checkouts
            .iter()
            .find(|s| s.text().contains("path: submission"))
            .expect("有一步把学生的仓库取到 submission/");
        assert!(
            !student.text().contains("repository:"),
            "学生的仓库就是当前仓库"
        );

        // 组织变量先检查，后使用；评分命令钉在同一个提交上
        let check = &all[0];
        assert!(check.text().contains("[0-9a-fA-F]{40}"));
        assert!(yaml.contains("WORKBOOK_TEMPLATE_REF: ${{ vars.WORKBOOK_TEMPLATE_REF }}"));
        // cargo 只用模板的清单：学生仓库里的 Cargo.toml 决定不了怎么评分
        for line in yaml.lines().filter(|l| l.contains("cargo ")) {
            assert!(
                !line.contains("submission/"),
                "cargo 不能用学生仓库里的清单：{line}"
            );
            if line.contains("--manifest-path") {
                assert!(
                    line.contains("--manifest-path template/Cargo.toml"),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn toolchain_cache_and_build_come_before_grading() {
        let yaml = workflow();
        let position = |needle: &str| {
            yaml.find(needle)
                .unwrap_or_else(|| panic!("工作流里没有 {needle}"))
        };
        let install = position("rustup toolchain install");
        let restore = position("actions/cache/restore@v4");
        let build = position(
            "run: cargo build --locked --manifest-path template/Cargo.toml --bin workbook",
        );
        let save = position("actions/cache/save@v4");
        let bubblewrap = position("apt-get install -y -qq bubblewrap");
        let prepare = position("--bin workbook -- prepare ");
        let first_grade = position("--exercise ");
        assert!(install < restore && restore < build && build < save && save < first_grade);
        // 沙箱要的 bubblewrap 在评分器之前装好；评分工具在第一个学生的代码运行之前准备好
        assert!(bubblewrap < prepare && save < prepare && prepare < first_grade);
        assert!(yaml.contains("hashFiles('template/Cargo.lock', 'template/rust-toolchain.toml')"));
        for dir in ["~/.cargo/registry", "~/.cargo/git", "template/target"] {
            assert_eq!(yaml.matches(&format!("            {dir}\n")).count(), 2);
        }
    }

    #[test]
    fn workflow_skips_the_classroom_bot_and_has_a_timeout() {
        let yaml = workflow();
        assert!(yaml.contains("if: github.actor != 'github-classroom[bot]'"));
        assert!(yaml.contains("    timeout-minutes: "));
        for trigger in ["push:", "workflow_dispatch:", "repository_dispatch:"] {
            assert!(yaml.contains(&format!("\n  {trigger}\n")), "{trigger}");
        }
        assert!(yaml.contains("  checks: write\n  actions: read\n  contents: read\n"));
    }

    #[test]
    fn committed_workflow_is_up_to_date() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let committed = fs::read_to_string(root.join(PATH)).unwrap_or_default();
        assert!(
            committed == workflow(),
            "{PATH} 过期了：运行 cargo run --bin workbook -- classroom 重新生成"
        );
        assert!(!root.join(LEGACY).exists(), "{LEGACY} 应当删掉");
    }
}
