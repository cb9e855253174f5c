//! 练习 2.3 的评分测试：学生写的长度前缀编码器和解码器（labs/exercises/sticky_proto.rs），
//! 用的是检验实验里 proto 的同一批测试（tests/framing/checks.rs）。
//!
//! 这个测试程序直接把学生的文件编译进来，所以只在打开 exercise-proto 特性时才编译：
//! 平时的 cargo test 不会因为一个还没写完的练习而编译失败。请用练习册工具运行：
//!
//! ```text
//! cargo run --bin workbook -- check sticky-proto
//! ```

mod scenarios;
mod support;

#[path = "../labs/exercises/sticky_proto.rs"]
mod proto;

// 测试名以练习编号开头（ex_2_3_…），workbook 按这个前缀挑出它们
#[path = "framing/checks.rs"]
mod ex_2_3_proto;
