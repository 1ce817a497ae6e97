//! `mesos-executor`: the command executor the agent launches for tasks that bring a
//! `CommandInfo` and no executor of their own. All of it lives in
//! `mesos_client::command_executor`; this only hands it the command line.

fn main() {
    let code = mesos_client::command_executor::main(std::env::args().skip(1));
    std::process::exit(code);
}
