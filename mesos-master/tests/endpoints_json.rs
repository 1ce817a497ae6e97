//! The master's JSON endpoints over real HTTP, with the fields real tools read (pymesos,
//! avmesos-cli, the web UI): `/state`, `/state-summary`, `/frameworks`, `/slaves`, `/tasks`
//! paging, `/roles`, `/flags`, `/health`, `/redirect`, `/teardown`, `/version`,
//! `/metrics/snapshot`, and `?jsonp=`.

mod master_support;
mod operator_support;

use libprocess::http::StatusCode;
use libprocess::http::client::{self, ClientRequest};
use master_support::*;
use operator_support::*;
use serde_json::Value;

fn ids(tasks: &Value) -> Vec<String> {
    tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn state_has_the_fields_tools_read() {
    let running = Running::start(2);
    let cluster = &running.cluster;
    let (status, state) = get_json(cluster, "/master/state");
    assert_eq!(status, StatusCode::OK);
    // `/state` and `/state.json` are the same document (modulo uptime-free fields).
    let (_, alias) = get_json(cluster, "/state");
    assert_eq!(alias["id"], state["id"]);
    let (_, alias) = get_json(cluster, "/master/state.json");
    assert_eq!(alias["id"], state["id"]);

    let master_id = cluster.inspect(|m| m.info.id.clone());
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["id"], master_id.as_str());
    assert_eq!(state["pid"], format!("master@{}", cluster.address).as_str());
    assert_eq!(state["leader"], state["pid"]);
    assert_eq!(state["leader_info"]["id"], master_id.as_str());
    assert_eq!(state["leader_info"]["port"], cluster.address.port());
    assert!(state["start_time"].as_f64().unwrap() > 0.0);
    assert!(state["elected_time"].is_f64());
    assert_eq!(state["activated_slaves"], 1);
    assert_eq!(state["deactivated_slaves"], 0);
    assert_eq!(state["unreachable_slaves"], 0);
    assert_eq!(state["flags"]["registry"], "in_memory");
    assert!(state["build_date"].is_string() && state["build_user"].is_string());
    assert!(
        state["capabilities"]
            .as_array()
            .unwrap()
            .contains(&Value::from("AGENT_UPDATE"))
    );
    assert_eq!(state["orphan_tasks"], serde_json::json!([]));
    assert_eq!(state["unregistered_frameworks"], serde_json::json!([]));
    assert_eq!(state["completed_frameworks"], serde_json::json!([]));
    assert_eq!(state["recovered_slaves"], serde_json::json!([]));

    let agent = &state["slaves"][0];
    assert_eq!(agent["id"], running.agent.agent_id().unwrap().as_str());
    assert_eq!(agent["hostname"], "host1");
    assert_eq!(agent["port"], 5051);
    assert_eq!(agent["pid"], running.agent.upid().to_string().as_str());
    assert_eq!(agent["active"], true);
    assert_eq!(agent["deactivated"], false);
    assert_eq!(agent["version"], "1.11.0");
    assert_eq!(agent["attributes"], serde_json::json!({}));
    assert_eq!(agent["resources"]["cpus"], 8.0);
    assert_eq!(agent["resources"]["mem"], 4096.0);
    assert_eq!(agent["resources"]["disk"], 0.0);
    assert_eq!(agent["resources"]["gpus"], 0.0);
    assert_eq!(agent["resources"]["ports"], "[31000-32000]");
    assert_eq!(agent["used_resources"]["cpus"], 1.0);
    assert_eq!(agent["used_resources"]["mem"], 128.0);
    assert_eq!(agent["unreserved_resources"]["cpus"], 8.0);
    assert_eq!(agent["reserved_resources"], serde_json::json!({}));
    assert!(agent["registered_time"].is_f64());
    assert!(
        agent["capabilities"]
            .as_array()
            .unwrap()
            .contains(&Value::from("MULTI_ROLE"))
    );

    let framework = &state["frameworks"][0];
    assert_eq!(framework["id"], running.scheduler.framework_id.as_str());
    assert_eq!(framework["name"], "fw");
    assert_eq!(framework["user"], "root");
    assert_eq!(framework["active"], true);
    assert_eq!(framework["connected"], true);
    assert_eq!(framework["recovered"], false);
    assert_eq!(framework["role"], "*");
    assert_eq!(framework["checkpoint"], false);
    assert_eq!(framework["failover_timeout"], 0.0);
    assert_eq!(framework["hostname"], "");
    assert_eq!(framework["webui_url"], "");
    assert_eq!(framework["used_resources"]["cpus"], 1.0);
    assert!(framework["registered_time"].is_f64());
    assert!(framework["offers"].is_array() && framework["executors"].is_array());
    assert_eq!(framework["completed_tasks"], serde_json::json!([]));
    let mut tasks = ids(&framework["tasks"]);
    tasks.sort();
    assert_eq!(tasks, ["t0", "t1"]);
    let task = framework["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "t1")
        .unwrap();
    assert_eq!(task["name"], "t1");
    assert_eq!(task["framework_id"], framework["id"]);
    assert_eq!(task["executor_id"], "");
    assert_eq!(task["slave_id"], agent["id"]);
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["role"], "*");
    assert_eq!(task["user"], "root");
    assert_eq!(
        task["resources"],
        serde_json::json!({"cpus": 0.5, "mem": 64.0, "disk": 0.0, "gpus": 0.0})
    );
    let statuses = task["statuses"].as_array().unwrap();
    assert_eq!(statuses.last().unwrap()["state"], "TASK_RUNNING");
    assert_eq!(statuses.last().unwrap()["timestamp"], 101.0);
}

#[test]
fn tasks_pages_orders_and_filters() {
    let running = Running::start(5);
    let cluster = &running.cluster;
    // Default: descending by the first status's time, at most 100.
    let (_, all) = get_json(cluster, "/master/tasks");
    assert_eq!(ids(&all["tasks"]), ["t4", "t3", "t2", "t1", "t0"]);
    let (_, page) = get_json(cluster, "/master/tasks?order=asc&limit=2&offset=1");
    assert_eq!(ids(&page["tasks"]), ["t1", "t2"]);
    // avmesos-cli asks for limit=-1: no limit.
    let (_, page) = get_json(cluster, "/tasks?order=asc&limit=-1");
    assert_eq!(ids(&page["tasks"]), ["t0", "t1", "t2", "t3", "t4"]);
    let (_, page) = get_json(cluster, "/master/tasks?limit=junk&offset=4");
    assert_eq!(ids(&page["tasks"]), ["t0"]);
    let (_, page) = get_json(cluster, "/master/tasks?offset=10");
    assert_eq!(ids(&page["tasks"]), Vec::<String>::new());
    let (_, page) = get_json(cluster, "/master/tasks?task_id=t3");
    assert_eq!(ids(&page["tasks"]), ["t3"]);
    let url = format!(
        "/master/tasks?framework_id={}",
        running.scheduler.framework_id
    );
    let (_, page) = get_json(cluster, &url);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 5);
    let (_, page) = get_json(cluster, "/master/tasks?framework_id=nope");
    assert_eq!(ids(&page["tasks"]), Vec::<String>::new());
    // Each task has executor_id (avmesos-cli needs the key) and its latest status.
    for task in all["tasks"].as_array().unwrap() {
        assert_eq!(task["executor_id"], "");
        assert_eq!(task["statuses"][0]["state"], "TASK_RUNNING");
    }
}

#[test]
fn jsonp_wraps_json_endpoints() {
    let running = Running::start(1);
    for path in [
        "/master/state?jsonp=cb",
        "/master/tasks?jsonp=cb",
        "/master/slaves?jsonp=cb",
        "/master/frameworks?jsonp=cb",
        "/master/flags?jsonp=cb",
    ] {
        let response = get(&running.cluster, path);
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.header("content-type"), Some("text/javascript"));
        let text = body_text(&response);
        let inner = text
            .strip_prefix("cb(")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{path}: {text}"));
        let _: Value = serde_json::from_str(inner).unwrap();
    }
}

#[test]
fn frameworks_slaves_summary_roles_flags() {
    let running = Running::start(1);
    let cluster = &running.cluster;
    // avmesos-cli asks with a trailing slash.
    let (status, frameworks) = get_json(cluster, "/master/frameworks/");
    assert_eq!(status, StatusCode::OK);
    let framework = &frameworks["frameworks"][0];
    for key in ["id", "active", "hostname", "name"] {
        assert!(!framework[key].is_null(), "{key}");
    }
    assert_eq!(frameworks["completed_frameworks"], serde_json::json!([]));
    assert_eq!(frameworks["unregistered_frameworks"], serde_json::json!([]));

    let (_, slaves) = get_json(cluster, "/slaves");
    let agent = &slaves["slaves"][0];
    assert_eq!(agent["hostname"], "host1");
    assert_eq!(agent["active"], true);
    assert_eq!(slaves["recovered_slaves"], serde_json::json!([]));
    let (_, none) = get_json(cluster, "/master/slaves?slave_id=nope");
    assert_eq!(none["slaves"], serde_json::json!([]));

    let (_, summary) = get_json(cluster, "/master/state-summary");
    assert_eq!(summary["slaves"][0]["TASK_RUNNING"], 1);
    assert_eq!(
        summary["slaves"][0]["framework_ids"],
        serde_json::json!([running.scheduler.framework_id])
    );
    assert_eq!(summary["frameworks"][0]["TASK_RUNNING"], 1);
    assert!(summary["frameworks"][0].get("tasks").is_none());

    let (_, roles) = get_json(cluster, "/master/roles");
    let star = &roles["roles"][0];
    assert_eq!(star["name"], "*");
    assert_eq!(star["weight"], 1.0);
    assert_eq!(
        star["frameworks"],
        serde_json::json!([running.scheduler.framework_id])
    );
    assert_eq!(star["allocated"]["cpus"], 0.5);

    let (_, flags) = get_json(cluster, "/master/flags");
    assert_eq!(flags["flags"]["registry"], "in_memory");
    assert!(flags["flags"].as_object().unwrap().len() > 10);
}

#[test]
fn version_health_redirect() {
    let cluster = Cluster::new(|_| {});
    let (status, version) = get_json(&cluster, "/version");
    assert_eq!(status, StatusCode::OK);
    let text = version["version"].as_str().unwrap();
    // pymesos parses it as integers.
    let parts: Vec<u32> = text.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts, [1, 11, 0]);
    assert!(version["build_date"].is_string());
    assert!(version["build_time"].is_f64());
    assert!(version["build_user"].is_string());

    let health = get(&cluster, "/master/health");
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(body_text(&health), "");

    let redirect = get(&cluster, "/master/redirect");
    assert_eq!(redirect.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        redirect.header("location"),
        Some(format!("//127.0.0.1:{}", cluster.address.port()).as_str())
    );
    assert_eq!(
        get(&cluster, "/master/redirect/elsewhere").status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn metrics_snapshot_has_master_and_allocator_figures() {
    let running = Running::start(3);
    let (status, metrics) = get_json(&running.cluster, "/metrics/snapshot");
    assert_eq!(status, StatusCode::OK);
    let expect = [
        ("master/elected", 1.0),
        ("master/slaves_active", 1.0),
        ("master/slaves_connected", 1.0),
        ("master/frameworks_active", 1.0),
        ("master/frameworks_connected", 1.0),
        ("master/tasks_running", 3.0),
        ("master/tasks_finished", 0.0),
        ("master/cpus_total", 8.0),
        ("master/cpus_used", 1.5),
        ("master/mem_total", 4096.0),
        ("master/mem_used", 192.0),
        ("master/disk_total", 0.0),
        ("master/gpus_total", 0.0),
        ("master/operator_event_stream_subscribers", 0.0),
        ("allocator/mesos/resources/cpus/total", 8.0),
    ];
    for (name, value) in expect {
        assert_eq!(metrics[name].as_f64(), Some(value), "{name}");
    }
    assert!(metrics["master/uptime_secs"].as_f64().unwrap() >= 0.0);
    assert!(metrics["allocator/mesos/allocation_runs"].as_f64().unwrap() >= 1.0);
    assert!((metrics["master/cpus_percent"].as_f64().unwrap() - 1.5 / 8.0).abs() < 1e-9);
}

#[test]
fn teardown_endpoint_removes_the_framework() {
    let running = Running::start(1);
    let cluster = &running.cluster;
    let url = format!("http://{}/master/teardown", cluster.address);
    let post = |body: &str| {
        let request = ClientRequest::post(&url).unwrap().body(
            "application/x-www-form-urlencoded",
            body.as_bytes().to_vec(),
        );
        client::request(request).get().unwrap()
    };
    assert_eq!(
        client::get(&url).get().unwrap().status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(post("").status, StatusCode::BAD_REQUEST);
    assert_eq!(post("frameworkId=nope").status, StatusCode::BAD_REQUEST);
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);

    let response = post(&format!("frameworkId={}", running.scheduler.framework_id));
    assert_eq!(response.status, StatusCode::OK);
    let (_, state) = get_json(cluster, "/master/state");
    assert_eq!(state["frameworks"], serde_json::json!([]));
    let completed = &state["completed_frameworks"][0];
    assert_eq!(completed["id"], running.scheduler.framework_id.as_str());
    assert_eq!(completed["active"], false);
    assert_eq!(completed["completed_tasks"][0]["state"], "TASK_KILLED");
    let (_, tasks) = get_json(cluster, "/master/tasks");
    assert_eq!(ids(&tasks["tasks"]), ["t0"]);
}
