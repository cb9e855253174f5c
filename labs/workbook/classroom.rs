//! GitHub Classroom 的自动评分工作流 `.github/workflows/classroom.yml`。
//!
//! 评分不在学生的仓库里进行：工作流把教师的模板仓库在一个固定的提交上取到 `template/`，
//! 用那里的评分器给 `submission/`（学生的仓库）里的练习文件评分。学生改动自己仓库里的测试、
//! 快照、评分器或 Cargo.toml，都碰不到评分。每个练习一步，结果交给 Classroom 的汇总报告。
//!
//! 工作流由 [`workflow`] 根据练习清单生成：`cargo run --bin workbook -- classroom` 写入，
//! `--check` 核对它没有过期（CI 和 `selftest` 都会核对）。

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use crate::exercises::{ALL, Exercise};

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
    timeout-minutes: 60
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
"#;

/// 评分命令里固定的部分：在 $GITHUB_WORKSPACE 里运行，评分器和规格来自 template/。
const GRADE: &str = "cargo run --quiet --locked --manifest-path template/Cargo.toml --bin workbook -- grade submission --spec-ref \"$WORKBOOK_TEMPLATE_REF\"";

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
        "{GRADE} --exercise {} --format classroom >> \"$GITHUB_OUTPUT\"",
        ex.name
    )
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
    let mut out = String::from(HEAD);
    for ex in ALL {
        let name = format!("练习 {}：{}（{} 分）", ex.id, ex.title, ex.points);
        out.push('\n');
        out.push_str(&format!("      - name: {}\n", quote(&name)));
        out.push_str(&format!("        id: {}\n", step_id(ex)));
        out.push_str("        timeout-minutes: 15\n");
        out.push_str(&format!("        run: {}\n", grade_command(ex)));
    }
    let ids: Vec<String> = ALL.iter().map(step_id).collect();
    out.push('\n');
    out.push_str("      - name: 汇总分数，报告给 GitHub Classroom\n");
    out.push_str("        if: always()\n");
    out.push_str("        uses: classroom-resources/autograding-grading-reporter@v1\n");
    out.push_str("        env:\n");
    for ex in ALL {
        let output = format!("steps.{}.outputs.result", step_id(ex));
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
                         --exercise {} --format classroom >> \"$GITHUB_OUTPUT\"",
                        ex.name
                    )
                    .as_str()
                )
            );
            assert!(step.field("if").is_none(), "评分步骤按顺序运行");
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
        assert_eq!(reporter.field("if"), Some("always()"));
        let ids: Vec<String> = ALL.iter().map(step_id).collect();
        let runners = reporter
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("          runners: "))
            .expect("汇总报告有 runners");
        assert_eq!(runners, ids.join(","));
        for ex in ALL {
            let line = format!(
                "          {}_RESULTS: ${{{{ steps.{}.outputs.result }}}}",
                step_id(ex).to_uppercase(),
                step_id(ex)
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
            .filter(|l| l.ends_with(".outputs.result }}"))
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
        let first_grade = position("--exercise ");
        assert!(install < restore && restore < build && build < save && save < first_grade);
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
