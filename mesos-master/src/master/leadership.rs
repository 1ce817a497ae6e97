//! Leadership (upstream `Master::contended`, `lostCandidacy`, `detected` and
//! `Master::Http::redirect`): a master contends through its [`MasterContender`], follows the
//! leader through its [`MasterDetector`], and acts as master only while the detector names
//! it. Once named it recovers the registry; until then, and for good once it was deposed,
//! it answers the APIs with a redirect to the leader and drops messages from agents and
//! frameworks.
//!
//! Stepping down: a leader whose candidacy is lost, whom the detector stops naming, whose
//! registry writes are refused as stale (another master wrote), or whose recovered agents
//! failed to come back beyond `--recovery_agent_removal_limit`, stops acting as leader and
//! completes [`crate::Master::lost_leadership`] with the reason; the binary then exits with
//! failure, as Mesos does. A follower whose candidacy is lost contends again.

use std::time::Duration;

use libprocess::http::{Request, Response};
use libprocess::{Future, dispatch};
use mesos_core::v0;
use tracing::{error, info, warn};

use super::MasterProcess;
use super::detector::same_master;

impl MasterProcess {
    /// Whether this master leads now (the detector names it and it did not step down).
    pub fn elected(&self) -> bool {
        self.lost_leadership_reason.is_none() && same_master(self.leader.as_ref(), Some(&self.info))
    }

    /// Starts contending and detecting (from `initialize`).
    pub(crate) fn start_election(&mut self) {
        self.contend();
        self.detect();
        let me = self.pid();
        self.registrar.fenced().on_ready(move |reason| {
            let reason = format!("the registry was written by another master: {reason}");
            dispatch(&me, move |m: &mut MasterProcess| m.step_down(reason));
        });
    }

    fn contend(&mut self) {
        let me = self.pid();
        self.contender
            .contend(self.info.clone())
            .on_any(move |contended| {
                dispatch(&me, move |m: &mut MasterProcess| m.contended(contended));
            });
    }

    fn contended(&mut self, contended: Future<Future<()>>) {
        if self.lost_leadership_reason.is_some() {
            return;
        }
        match contended.get() {
            Ok(candidacy) => {
                info!(master_id = %self.info.id, "contending for leadership");
                let me = self.pid();
                candidacy.on_any(move |lost| {
                    dispatch(&me, move |m: &mut MasterProcess| m.lost_candidacy(lost));
                });
            }
            Err(error) => self.step_down(format!("failed to contend for leadership: {error}")),
        }
    }

    fn lost_candidacy(&mut self, lost: Future<()>) {
        if self.lost_leadership_reason.is_some() {
            return;
        }
        if let Some(failure) = lost.failure() {
            self.step_down(format!("failed to watch the candidacy: {failure}"));
        } else if self.elected() {
            self.step_down("the leader lost its candidacy".into());
        } else {
            info!("candidacy lost while not leading; contending again");
            self.contend();
        }
    }

    fn detect(&mut self) {
        let me = self.pid();
        self.detector
            .detect(self.leader.as_ref())
            .on_any(move |detected| {
                dispatch(&me, move |m: &mut MasterProcess| m.detected(detected));
            });
    }

    fn detected(&mut self, detected: Future<Option<v0::MasterInfo>>) {
        if self.lost_leadership_reason.is_some() {
            return;
        }
        let was_elected = self.elected();
        self.leader = match detected.get() {
            Ok(leader) => leader,
            Err(error) => {
                error!(%error, "failed to detect the leading master");
                None
            }
        };
        match &self.leader {
            Some(leader) => info!(
                leader = leader.pid.as_deref().unwrap_or(""),
                "leader detected"
            ),
            None => warn!("no leading master is known"),
        }
        if self.elected() {
            if !was_elected {
                info!(master_id = %self.info.id, "elected as the leading master");
                self.elected_time = Some(self.now());
                self.recover();
            }
        } else if was_elected {
            self.step_down("another master leads now (or none is known)".into());
            return;
        }
        self.detect();
    }

    /// Reads the registry, as the leader (the answer reaches `recovered_registry`).
    fn recover(&mut self) {
        let me = self.pid();
        self.registrar
            .recover(self.info.clone())
            .on_any(move |result| {
                let outcome = match result.get() {
                    Ok(registry) => Ok(registry),
                    Err(e) => Err(e.to_string()),
                };
                dispatch(&me, move |m: &mut MasterProcess| {
                    m.recovered_registry(outcome)
                });
            });
    }

    /// Stops acting as leader for good; [`crate::Master::lost_leadership`] fires with
    /// `reason`. Nothing is written to the registry again.
    pub(crate) fn step_down(&mut self, reason: String) {
        if self.lost_leadership_reason.is_some() {
            return;
        }
        error!(%reason, "this master stops acting as leader");
        self.lost_leadership_reason = Some(reason.clone());
        self.recovered = false;
        self.registrar.terminate();
        self.lost_leadership.set(reason);
    }

    /// `Some(answer)` when this master must not serve `request` because it does not lead:
    /// a redirect to the leader (`503` when none is known). `None` when it leads.
    pub fn not_leading(&self, request: &Request) -> Option<Response> {
        if self.elected() {
            return None;
        }
        Some(self.redirect(request))
    }

    /// Upstream `Master::Http::redirect`: `307` to the leader, `//host:port` followed by the
    /// request's path and query; for `/redirect` itself just `//host:port`, and `404` for
    /// paths below it (no redirect loops). `503` when no leader is known.
    pub fn redirect(&self, request: &Request) -> Response {
        let leader = if self.lost_leadership_reason.is_some() {
            None
        } else {
            self.leader.as_ref()
        };
        let Some(leader) = leader else {
            warn!(path = %request.path, "no leader to redirect to");
            return Response::service_unavailable("No leader elected");
        };
        let host = match &leader.hostname {
            Some(host) => host.clone(),
            None => std::net::Ipv4Addr::from(leader.ip.to_le_bytes()).to_string(),
        };
        let base = format!("//{host}:{}", leader.port);
        let path = request.path.trim_end_matches('/');
        let routed = path.strip_prefix("/master").unwrap_or(path);
        if routed == "/redirect" {
            return Response::temporary_redirect(&base);
        }
        if routed.starts_with("/redirect/") {
            return Response::not_found();
        }
        let target = request
            .uri
            .path_and_query()
            .map_or_else(|| request.path.clone(), |p| p.as_str().to_owned());
        info!(path = %request.path, leader = %base, "redirecting to the leading master");
        Response::temporary_redirect(&format!("{base}{target}"))
    }

    /// Whether a message from an agent or a framework may be handled: only the leader
    /// handles them; others drop them, as Mesos does.
    pub(crate) fn leading_or_drop(&self, from: &libprocess::Upid, message: &str) -> bool {
        if self.elected() {
            return true;
        }
        tracing::debug!(%from, message, "dropping a message: this master does not lead");
        false
    }

    /// Schedules the end of the agents' reregistration window after recovery.
    pub(crate) fn schedule_recovered_agents_timeout(&mut self) {
        self.registry_agents = self.state.recovered_agents.len();
        if self.state.recovered_agents.is_empty() {
            return;
        }
        let timeout: Duration = self
            .flags
            .agent_reregister_timeout
            .try_into()
            .unwrap_or(Duration::from_secs(600));
        libprocess::delay(timeout, &self.pid(), |m: &mut MasterProcess| {
            m.recovered_agents_timeout()
        });
    }

    /// `--agent_reregister_timeout` after recovery: the agents that did not come back are
    /// removed, unless they are more than `--recovery_agent_removal_limit` of the registry;
    /// then this master refuses and steps down (upstream exits), leaving the registry
    /// untouched for the next leader.
    pub(crate) fn recovered_agents_timeout(&mut self) {
        if !self.elected() {
            return;
        }
        let late = self.state.recovered_agents.len();
        if late == 0 || self.registry_agents == 0 {
            return;
        }
        let share = late as f64 / self.registry_agents as f64;
        let limit = self.settings.recovery_agent_removal_limit;
        if share > limit {
            self.step_down(format!(
                "post-recovery agent removal limit exceeded: {late} of {} agents ({:.1}%) did \
                 not reregister within {}, the limit is {}%",
                self.registry_agents,
                share * 100.0,
                self.flags.agent_reregister_timeout,
                limit * 100.0,
            ));
            return;
        }
        self.agent_reregister_timeout();
    }
}
