//! 场景：每个场景描述一个程序“应当怎样表现”，参数是被测程序的路径。
//! 同一个场景既用来检验实验程序（labs/），也用来给学生的练习评分。

#![allow(dead_code)] // 每个测试文件只用到其中一部分

pub mod chat;
pub mod deadlock;
pub mod lan;
pub mod liveness;
pub mod tcp;
pub mod udp;

// 第 1 章与第 2.3 节
pub mod socket;
pub mod sticky;
