//! The Kubernetes section of `report`: the top kinds and namespaces by bytes, the share of
//! managedFields and of the last-applied annotation, and next steps in Kubernetes words,
//! drawn from a [`K8sSummary`].

use super::account::{Detail, FindingKind, GroupStats, K8sSummary};
use serde::Serialize;

/// One row of a top list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// Kind or namespace ("" = cluster-scoped / undecodable).
    pub name: String,
    /// Live objects.
    pub objects: u64,
    /// Live and history bytes.
    pub bytes: u64,
    /// Part of all `/registry/` value bytes.
    pub share: f64,
}

/// One next step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K8sStep {
    /// Stable id: `event_flood`, `events_ttl`, `managed_fields`, `last_applied`,
    /// `stuck_deletion`, `orphan_owner`, `stale_lease`, `mixed_encryption`, `churn`.
    pub id: &'static str,
    /// The advice.
    pub text: String,
}

/// The section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K8sSection {
    /// Live objects under `/registry/`.
    pub objects: u64,
    /// Their value bytes, live and history.
    pub bytes: u64,
    /// Top kinds by bytes.
    pub top_kinds: Vec<Share>,
    /// Top namespaces by bytes.
    pub top_namespaces: Vec<Share>,
    /// metadata.managedFields bytes in live objects.
    pub managed_fields_bytes: u64,
    /// Their part of the live bytes.
    pub managed_fields_share: f64,
    /// last-applied-configuration bytes in live objects.
    pub last_applied_bytes: u64,
    /// Their part of the live bytes.
    pub last_applied_share: f64,
    /// Findings per kind.
    pub findings: std::collections::BTreeMap<&'static str, u64>,
    /// Next steps.
    pub next_steps: Vec<K8sStep>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The section for `s`, `None` when there is no object under `/registry/`.
pub fn section(s: &K8sSummary, top: usize) -> Option<K8sSection> {
    if s.totals.revisions == 0 {
        return None;
    }
    let t = &s.totals;
    let all = t.bytes();
    let rows = |g: &[(String, GroupStats)]| -> Vec<Share> {
        g.iter()
            .take(top)
            .map(|(n, g)| Share {
                name: n.clone(),
                objects: g.objects,
                bytes: g.bytes(),
                share: share(g.bytes(), all),
            })
            .collect()
    };
    let mut steps = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for f in &s.findings {
        *counts.entry(f.kind.as_str()).or_insert(0u64) += 1;
    }
    let first = |k: FindingKind| s.findings.iter().find(|f| f.kind == k);
    let n = |k: FindingKind| counts.get(k.as_str()).copied().unwrap_or(0);
    if let Some(f) = first(FindingKind::EventFlood) {
        if let Detail::Flood {
            namespace,
            involved_kind,
            involved_name,
            reason,
            events,
            ..
        } = &f.detail
        {
            steps.push(K8sStep {
                id: "event_flood",
                text: format!(
                    "namespace {namespace} has {events} Events about {involved_kind} {involved_name} (reason {reason}): fix what emits them, or lower kube-apiserver --event-ttl (default 1h)"
                ),
            });
        }
    } else if let Some((_, ev)) = s.by_resource.iter().find(|(r, _)| r == "events") {
        if share(ev.bytes(), all) >= 0.5 {
            steps.push(K8sStep {
                id: "events_ttl",
                text: format!(
                    "Events hold {} of the Kubernetes bytes ({} objects): lower kube-apiserver --event-ttl, or store events in a separate etcd (--etcd-servers-overrides=/events#...)",
                    pct(share(ev.bytes(), all)),
                    ev.objects
                ),
            });
        }
    }
    let mf = share(t.managed_fields_bytes, t.live_bytes);
    if mf >= 0.25 {
        let kind = s
            .by_kind
            .iter()
            .max_by(|a, b| {
                a.1.managed_fields_bytes
                    .cmp(&b.1.managed_fields_bytes)
                    .then(b.0.cmp(&a.0))
            })
            .map(|(k, _)| k.as_str())
            .unwrap_or("");
        steps.push(K8sStep {
            id: "managed_fields",
            text: format!(
                "managedFields take {} of the live object bytes (most in {kind}): many field managers write these objects; find them with `kubectl get --show-managed-fields -o yaml`",
                pct(mf)
            ),
        });
    }
    let la = share(t.last_applied_bytes, t.live_bytes);
    if la >= 0.25 {
        steps.push(K8sStep {
            id: "last_applied",
            text: format!(
                "the kubectl.kubernetes.io/last-applied-configuration annotation takes {} of the live object bytes: `kubectl apply --server-side` does not write it",
                pct(la)
            ),
        });
    }
    if let Some(f) = first(FindingKind::StuckDeletion) {
        steps.push(K8sStep {
            id: "stuck_deletion",
            text: format!(
                "{} object(s) are stuck in deletion (deletionTimestamp set, finalizers left), e.g. {}: the controller that owns the finalizer is gone or failing",
                n(FindingKind::StuckDeletion),
                f.message
            ),
        });
    }
    if let Some(f) = first(FindingKind::OrphanOwner) {
        steps.push(K8sStep {
            id: "orphan_owner",
            text: format!(
                "{} object(s) name an owner that exists nowhere in the keyspace (e.g. {}): the garbage collector in kube-controller-manager has not removed them",
                n(FindingKind::OrphanOwner),
                f.key
            ),
        });
    }
    if first(FindingKind::StaleLease).is_some() {
        steps.push(K8sStep {
            id: "stale_lease",
            text: format!(
                "{} Lease(s) were not renewed for 3 lease durations before the newest renewal in the db: their holders (nodes, controllers) had stopped",
                n(FindingKind::StaleLease)
            ),
        });
    }
    for f in s
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::MixedEncryption)
    {
        steps.push(K8sStep {
            id: "mixed_encryption",
            text: format!(
                "{}: finish the key rotation by rewriting every object (e.g. `kubectl get secrets -A -o json | kubectl replace -f -`)",
                f.message
            ),
        });
    }
    if let Some(r) = s.most_revisions.first().filter(|r| r.revisions >= 100) {
        steps.push(K8sStep {
            id: "churn",
            text: format!(
                "{} keeps {} revisions: something rewrites it often; `etcd-autopsy history` shows what changes and `etcd-autopsy churn` who writes most",
                r.key, r.revisions
            ),
        });
    }
    Some(K8sSection {
        objects: t.objects,
        bytes: all,
        top_kinds: rows(&s.by_kind),
        top_namespaces: rows(&s.by_namespace),
        managed_fields_bytes: t.managed_fields_bytes,
        managed_fields_share: mf,
        last_applied_bytes: t.last_applied_bytes,
        last_applied_share: la,
        findings: counts,
        next_steps: steps,
    })
}
