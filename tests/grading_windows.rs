//! Windows 上的评分命令：拒绝评分，用中文说明原因和去处（容器、WSL2），退出码 2。
//! 加上 --no-sandbox 也一样：Windows 上没有办法在评分结束时结束学生的程序留下的进程。
//!
//! 评分要在 Linux 的沙箱里进行（见 labs/workbook/sandbox.rs），
//! 评分器的其他测试在 tests/grading.rs 里，只在 Unix 上编译。
#![cfg(windows)]

use std::process::Command;

#[test]
fn grading_commands_explain_that_they_need_unix() {
    for args in [
        &["grade"][..],
        &["grade-folder", "作业"][..],
        &["selftest"][..],
        &["grade", "--no-sandbox"][..],
        &["selftest", "--no-sandbox"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_workbook"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("运行 workbook");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("Linux") && stderr.contains("WSL2"),
            "workbook {args:?}：{stderr}"
        );
        assert_eq!(output.status.code(), Some(2), "workbook {args:?}");
    }
}
