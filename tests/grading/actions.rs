//! 在本机按 GitHub Actions 的规矩跑一遍 `.github/workflows/classroom.yml`：
//! 每一步有自己新的 `GITHUB_OUTPUT` 和 `GITHUB_ENV` 文件，`GITHUB_ENV` 里写的变量带到后面的步骤，
//! 按 `if:` 决定运行还是跳过，超过 `timeout-minutes` 就结束整个进程组、记为失败。
//! `run:` 用 GitHub 的默认方式运行（`bash --noprofile --norc -eo pipefail`）。
//! `uses:` 的几个 action 不联网：取仓库的两步由测试事先准备好目录，缓存的两步什么也不做，
//! 汇总报告那一步只算出它的环境变量，交给测试按汇总报告自己的做法解码、加总。
//!
//! 只认识这个工作流用到的写法（生成它的是 labs/workbook/classroom.rs）。

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 工作流里的一步。
#[derive(Default, Debug)]
pub struct Step {
    pub name: String,
    pub id: Option<String>,
    pub condition: Option<String>,
    pub timeout_minutes: Option<u64>,
    pub run: Option<String>,
    pub uses: Option<String>,
    pub working_directory: Option<String>,
    pub env: Vec<(String, String)>,
}

/// 一次运行的结果。
#[derive(Default)]
pub struct Run {
    /// 步骤 id（没有 id 的用名字）→ success、failure 或 skipped
    pub outcomes: BTreeMap<String, String>,
    /// 步骤按顺序（id 或名字）
    pub order: Vec<String>,
    /// 步骤 id → 它写进 GITHUB_OUTPUT 的值
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// 汇总报告运行了的话：它的环境变量（名字 → 值）
    pub reporter: Option<BTreeMap<String, String>>,
    /// 每一步的输出（调试用）
    pub log: String,
}

/// 解析工作流：作业级的 env，和每一步。
pub fn parse(yaml: &str) -> (Vec<(String, String)>, Vec<Step>) {
    let mut job_env = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut section = "";
    let mut block: Option<String> = None; // 正在读的 `run: |`
    for line in yaml.lines() {
        if let Some(text) = block.as_mut() {
            if line.is_empty() || line.starts_with("          ") {
                text.push_str(line.get(10..).unwrap_or(""));
                text.push('\n');
                continue;
            }
            let text = block.take().unwrap_or_default();
            if let Some(step) = steps.last_mut() {
                step.run = Some(text);
            }
        }
        if line == "    env:" {
            section = "job-env";
            continue;
        }
        if line == "    steps:" {
            section = "steps";
            continue;
        }
        match section {
            "job-env" => {
                if let Some((key, value)) =
                    line.strip_prefix("      ").and_then(|l| l.split_once(": "))
                {
                    if !key.starts_with(' ') && !key.starts_with('#') {
                        job_env.push((key.to_string(), unquote(value)));
                    }
                } else if !line.trim().is_empty() && !line.starts_with("      ") {
                    section = "";
                }
            }
            "steps" => {
                if let Some(first) = line.strip_prefix("      - ") {
                    steps.push(Step::default());
                    field(steps.last_mut(), first, &mut block);
                } else if let Some(rest) = line.strip_prefix("          ")
                    && !rest.starts_with(' ')
                    && let Some(step) = steps.last_mut()
                    && let Some((key, value)) = rest.split_once(": ")
                    && step.uses.as_deref().is_some_and(|u| u.contains("reporter"))
                {
                    step.env.push((key.to_string(), value.to_string()));
                } else if let Some(rest) = line.strip_prefix("        ")
                    && !rest.starts_with(' ')
                {
                    field(steps.last_mut(), rest, &mut block);
                }
            }
            _ => {}
        }
    }
    if let (Some(text), Some(step)) = (block, steps.last_mut()) {
        step.run = Some(text);
    }
    (job_env, steps)
}

fn field(step: Option<&mut Step>, text: &str, block: &mut Option<String>) {
    let Some(step) = step else { return };
    let Some((key, value)) = text.split_once(':') else {
        return;
    };
    let value = value.trim();
    match key {
        "name" => step.name = unquote(value),
        "id" => step.id = Some(value.to_string()),
        "if" => step.condition = Some(value.to_string()),
        "timeout-minutes" => step.timeout_minutes = value.parse().ok(),
        "uses" => step.uses = Some(value.to_string()),
        "working-directory" => step.working_directory = Some(value.to_string()),
        "run" if value == "|" => *block = Some(String::new()),
        "run" => step.run = Some(value.to_string()),
        _ => {}
    }
}

/// `"…"`（JSON 字符串）去掉引号，别的原样。
fn unquote(value: &str) -> String {
    if value.starts_with('"') {
        serde_json::from_str(value).unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    }
}

/// 跑一遍。`vars` 是组织变量，`workspace` 是 GITHUB_WORKSPACE（测试事先放好 submission/ 和 template/），
/// `runner_temp` 是 RUNNER_TEMP，`env` 是机器本身的环境变量，
/// `timeouts` 把某几步的时限换成给定的时长（模拟那一步超时）。
pub fn run(
    yaml: &str,
    vars: &BTreeMap<&str, String>,
    workspace: &Path,
    runner_temp: &Path,
    env: &[(&str, String)],
    timeouts: &BTreeMap<&str, Duration>,
) -> Run {
    let (job_env, steps) = parse(yaml);
    let mut result = Run::default();
    let mut exported: Vec<(String, String)> = Vec::new();
    let mut failed = false;
    let files = runner_temp.join("step-files");
    fs::create_dir_all(&files).expect("步骤文件的目录");
    for (n, step) in steps.iter().enumerate() {
        let key = step.id.clone().unwrap_or_else(|| step.name.clone());
        result.order.push(key.clone());
        let condition = step.condition.as_deref().unwrap_or("success()");
        if !evaluate(condition, &result, failed) {
            result.outcomes.insert(key, "skipped".into());
            continue;
        }
        if let Some(uses) = &step.uses {
            if uses.contains("reporter") {
                let values = step
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), value_of(v, &result)))
                    .collect();
                result.reporter = Some(values);
            } else if uses.starts_with("actions/cache/restore") {
                let outputs = BTreeMap::from([
                    ("cache-hit".to_string(), "false".to_string()),
                    ("cache-primary-key".to_string(), "本地".to_string()),
                ]);
                result.outputs.insert(key.clone(), outputs);
            }
            result.outcomes.insert(key, "success".into());
            continue;
        }
        let Some(script) = &step.run else { continue };
        let output_file = files.join(format!("output-{n}"));
        let env_file = files.join(format!("env-{n}"));
        fs::write(&output_file, "").expect("GITHUB_OUTPUT");
        fs::write(&env_file, "").expect("GITHUB_ENV");
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(match &step.working_directory {
                Some(dir) => workspace.join(dir),
                None => workspace.to_path_buf(),
            })
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(
                job_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), substitute(v, vars))),
            )
            .envs(exported.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("GITHUB_WORKSPACE", workspace)
            .env("RUNNER_TEMP", runner_temp)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_ENV", &env_file)
            .env("CI", "true")
            .stdin(Stdio::null());
        let limit = timeouts
            .get(key.as_str())
            .copied()
            .or(step.timeout_minutes.map(|m| Duration::from_secs(m * 60)))
            .unwrap_or(Duration::from_secs(360 * 60));
        let (success, log) = run_step(command, limit);
        result.log.push_str(&format!("==== {}\n{log}\n", step.name));
        let outputs = read_pairs(&output_file);
        exported.extend(read_pairs(&env_file));
        result
            .outputs
            .insert(key.clone(), outputs.into_iter().collect());
        failed |= !success;
        result
            .outcomes
            .insert(key, if success { "success" } else { "failure" }.into());
    }
    result
}

/// 运行一步（自成一个进程组），超时就结束整个进程组：返回（成功没有，输出）。
fn run_step(mut command: Command, limit: Duration) -> (bool, String) {
    use std::os::unix::process::CommandExt;
    let log = tempfile_path();
    let file = fs::File::create(&log).expect("日志文件");
    command
        .stdout(file.try_clone().expect("日志文件"))
        .stderr(file)
        .process_group(0);
    let mut child = command.spawn().expect("运行 bash");
    let deadline = Instant::now() + limit;
    let success = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.success();
        }
        if Instant::now() > deadline {
            // GitHub 在一步超时时结束这一步的全部进程
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    (success, text)
}

fn tempfile_path() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("actions-step-{}-{n}.log", std::process::id()))
}

/// `key=value` 一行一个（GitHub 的 GITHUB_OUTPUT、GITHUB_ENV 格式，这个工作流不用多行的写法）。
fn read_pairs(path: &Path) -> Vec<(String, String)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// 把 `${{ vars.X }}` 换成组织变量的值（没有就是空字符串）。
fn substitute(value: &str, vars: &BTreeMap<&str, String>) -> String {
    let inner = value
        .trim()
        .strip_prefix("${{")
        .and_then(|v| v.strip_suffix("}}"))
        .map(str::trim);
    match inner.and_then(|v| v.strip_prefix("vars.")) {
        Some(name) => vars.get(name).cloned().unwrap_or_default(),
        None => value.to_string(),
    }
}

/// 汇总报告的一个环境变量的值：`${{ steps.X.outputs.result || '…' }}`。
fn value_of(value: &str, run: &Run) -> String {
    let inner = value
        .trim()
        .strip_prefix("${{")
        .and_then(|v| v.strip_suffix("}}"))
        .unwrap_or(value)
        .trim();
    for alternative in inner.split(" || ") {
        let alternative = alternative.trim();
        if let Some(literal) = alternative
            .strip_prefix('\'')
            .and_then(|a| a.strip_suffix('\''))
        {
            return literal.to_string();
        }
        if let Some(found) = output(alternative, run)
            && !found.is_empty()
        {
            return found;
        }
    }
    String::new()
}

fn output(reference: &str, run: &Run) -> Option<String> {
    let rest = reference.strip_prefix("steps.")?;
    let (id, name) = rest.split_once(".outputs.")?;
    run.outputs.get(id)?.get(name).cloned()
}

/// `if:` 的值：`&&` 连起来的几项，每项是 `!cancelled()`、`always()`、`failure()`、`success()`、
/// `steps.X.outcome == 'Y'`、`steps.X.outputs.Y != 'Z'`，或者 `github.actor != …`（本地没有 Classroom 的机器人）。
fn evaluate(condition: &str, run: &Run, failed: bool) -> bool {
    let inner = condition
        .trim()
        .strip_prefix("${{")
        .and_then(|c| c.strip_suffix("}}"))
        .unwrap_or(condition);
    // GitHub：条件里没有 success()、failure()、always()、cancelled() 时，前面隐含一个 success() &&
    let has_status = ["success()", "failure()", "always()", "cancelled()"]
        .iter()
        .any(|f| inner.contains(f));
    if !has_status && failed {
        return false;
    }
    inner.split("&&").all(|term| {
        let term = term.trim();
        match term {
            "!cancelled()" | "always()" => true,
            "failure()" => failed,
            "success()" => !failed,
            _ => {
                let (left, right, equal) = if let Some((l, r)) = term.split_once(" == ") {
                    (l, r, true)
                } else if let Some((l, r)) = term.split_once(" != ") {
                    (l, r, false)
                } else {
                    panic!("本地的运行器不认识这个条件：{term}");
                };
                let right = right.trim().trim_matches('\'');
                let left = left.trim();
                let actual = if let Some(id) = left
                    .strip_prefix("steps.")
                    .and_then(|r| r.strip_suffix(".outcome"))
                {
                    run.outcomes.get(id).cloned().unwrap_or_default()
                } else if left.starts_with("github.") {
                    String::new()
                } else {
                    output(left, run).unwrap_or_default()
                };
                (actual == right) == equal
            }
        }
    })
}
