//! Process definitions as data: states (who holds each step, how several holders decide, the time
//! limit, what happens on timeout, which business fields are editable), and transitions with their
//! guards. Definitions live in the deployment pack as TOML and are stored versioned; a running
//! instance keeps the version it started with.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use utoipa::ToSchema;

/// What a state is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// The initiator's own step (draft, or where a return to the initiator lands).
    Start,
    /// A step held by assignees.
    Task,
    /// A region transfer awaiting the receiving region's confirmation.
    Transfer,
    /// The instance is complete.
    End,
}

/// Where a step's holders are found, relative to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The instance's own region.
    Own,
    /// The city (the root region of the deployment).
    City,
    /// The region a transfer is going to.
    Target,
    /// The user who started the instance.
    Initiator,
}

/// How several holders of one step decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 或签: the first decision counts.
    #[default]
    Any,
    /// 会签: everyone must approve; one return returns.
    All,
    /// 依次审批: one after another in order.
    Sequential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Remind the holder (and the initiator) with yellow and red cards.
    #[default]
    Remind,
    /// Also add the `escalate_to` holders to the step.
    Escalate,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignee {
    pub role: String,
    pub level: Level,
    /// Filled from the role table when the definition is read through the API.
    #[serde(default)]
    pub role_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub days: i64,
    /// Working days (the calendar) or natural days.
    #[serde(default = "yes")]
    pub working: bool,
}

fn yes() -> bool {
    true
}

fn one() -> i64 {
    1
}

fn three() -> i64 {
    3
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRules {
    /// Business fields the holder may change at this step (`*` = all).
    #[serde(default)]
    pub editable: Vec<String>,
    /// Shown but not editable (everything not editable or hidden is read-only).
    #[serde(default)]
    pub readonly: Vec<String>,
    /// Not shown at this step.
    #[serde(default)]
    pub hidden: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    pub code: String,
    pub name: String,
    #[serde(default = "task_kind")]
    pub kind: StateKind,
    #[serde(default)]
    pub assignee: Option<Assignee>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub limit: Option<Limit>,
    /// Working days before the deadline when the holder is reminded.
    #[serde(default = "one")]
    pub remind_before_days: i64,
    /// Working days after the deadline when the yellow card turns red.
    #[serde(default = "three")]
    pub red_after_days: i64,
    #[serde(default)]
    pub on_timeout: OnTimeout,
    #[serde(default)]
    pub escalate_to: Option<Assignee>,
    #[serde(default)]
    pub fields: FieldRules,
    /// Whether the holder may 退回 from this step (review steps); work steps set it to false.
    #[serde(default = "yes")]
    pub returnable: bool,
}

fn task_kind() -> StateKind {
    StateKind::Task
}

/// What a transition does besides moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    #[default]
    Transition,
    /// 流转: send the instance to another region (`to` is a transfer state).
    TransferRegion,
    /// The receiving region accepts: the instance moves there and resumes where it left.
    Confirm,
    /// The receiving region refuses: the instance resumes in its own region.
    RejectTransfer,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    pub from: String,
    /// A state code, or `$origin` (where a transfer left from).
    pub to: String,
    pub action: String,
    pub name: String,
    #[serde(default)]
    pub kind: TransitionKind,
    /// The actor needs one of these roles (empty: any holder of the step).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Business fields that must be filled.
    #[serde(default)]
    pub require_fields: Vec<String>,
    /// Business attachment kinds that must be present (submitted materials).
    #[serde(default)]
    pub require_attachments: Vec<String>,
    #[serde(default)]
    pub comment_required: bool,
    /// Copy (抄送/知会) holders of these roles in the instance's region.
    #[serde(default)]
    pub cc_roles: Vec<String>,
    /// Done through the business (e.g. by submitting materials), not offered as a button.
    #[serde(default)]
    pub by_business: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub code: String,
    pub name: String,
    pub business_type: String,
    pub initial: String,
    /// Roles that may terminate a running instance (the initiator always may).
    #[serde(default)]
    pub terminate_roles: Vec<String>,
    pub states: Vec<StateDef>,
    pub transitions: Vec<TransitionDef>,
    /// Assigned when stored; not part of the file.
    #[serde(default)]
    pub version: i64,
}

pub const ORIGIN: &str = "$origin";

impl Definition {
    pub fn parse_toml(text: &str) -> Result<Self, String> {
        let d: Definition = toml::from_str(text).map_err(|e| e.to_string())?;
        d.check()?;
        Ok(d)
    }

    pub fn state(&self, code: &str) -> Option<&StateDef> {
        self.states.iter().find(|s| s.code == code)
    }

    pub fn state_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.state(code).map(|s| s.name.as_str()).unwrap_or(code)
    }

    pub fn transitions_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a TransitionDef> + 'a {
        self.transitions.iter().filter(move |t| t.from == state)
    }

    /// The content hash that decides whether a pack file is a new version.
    pub fn hash(&self) -> String {
        use sm3::Digest;
        let mut d = self.clone();
        d.version = 0;
        for s in &mut d.states {
            if let Some(a) = s.assignee.as_mut() {
                a.role_name.clear();
            }
        }
        let json = serde_json::to_string(&d).unwrap_or_default();
        hex::encode(sm3::Sm3::digest(json.as_bytes()))
    }

    /// Structural checks: unique states, known targets, assignees where steps need them, a reachable end.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for s in &self.states {
            if !seen.insert(s.code.as_str()) {
                return Err(format!("state {} is defined twice", s.code));
            }
            match s.kind {
                StateKind::Task | StateKind::Transfer if s.assignee.is_none() => {
                    return Err(format!("state {} needs an assignee", s.code));
                }
                _ => {}
            }
            if let Some(l) = &s.limit {
                if l.days <= 0 || l.days > 365 {
                    return Err(format!("state {}: the time limit must be 1..365 days", s.code));
                }
            }
            if s.on_timeout == OnTimeout::Escalate && s.escalate_to.is_none() {
                return Err(format!("state {} escalates but names no escalate_to", s.code));
            }
        }
        if self.state(&self.initial).is_none() {
            return Err(format!("initial state {} is not defined", self.initial));
        }
        if !self.states.iter().any(|s| s.kind == StateKind::End) {
            return Err("a definition needs an end state".into());
        }
        let mut actions = HashSet::new();
        for t in &self.transitions {
            if self.state(&t.from).is_none() {
                return Err(format!("transition {} leaves unknown state {}", t.action, t.from));
            }
            if t.to != ORIGIN && self.state(&t.to).is_none() {
                return Err(format!("transition {} goes to unknown state {}", t.action, t.to));
            }
            if !actions.insert((t.from.as_str(), t.action.as_str())) {
                return Err(format!("action {} is defined twice on {}", t.action, t.from));
            }
            if crate::engine::GENERIC_ACTIONS.contains(&t.action.as_str()) {
                return Err(format!("action {} is reserved for the engine", t.action));
            }
            let to_kind = self.state(&t.to).map(|s| s.kind);
            match t.kind {
                TransitionKind::TransferRegion if to_kind != Some(StateKind::Transfer) => {
                    return Err(format!("transfer {} must go to a transfer state", t.action));
                }
                TransitionKind::Confirm | TransitionKind::RejectTransfer if t.to != ORIGIN => {
                    return Err(format!("{} must resume at $origin", t.action));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether `field` is in a rule list (`*` matches everything).
pub fn listed(list: &[String], field: &str) -> bool {
    list.iter().any(|f| f == "*" || f == field)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
code = "t"
name = "测试"
business_type = "t"
initial = "draft"
[[states]]
code = "draft"
name = "草稿"
kind = "start"
[[states]]
code = "review"
name = "审核"
assignee = { role = "r", level = "own" }
[[states]]
code = "done"
name = "完成"
kind = "end"
[[transitions]]
from = "draft"
to = "review"
action = "submit"
name = "提交"
[[transitions]]
from = "review"
to = "done"
action = "approve"
name = "同意"
"#;

    #[test]
    fn parses_and_checks() {
        let d = Definition::parse_toml(MINI).unwrap();
        assert_eq!(d.states.len(), 3);
        assert_eq!(d.state("review").unwrap().mode, Mode::Any);
        let h = d.hash();
        let mut d2 = d.clone();
        d2.version = 7;
        assert_eq!(h, d2.hash(), "the version does not change the hash");
        d2.states[1].name = "复核".into();
        assert_ne!(h, d2.hash());
    }

    #[test]
    fn rejects_broken_definitions() {
        let bad = MINI.replace("to = \"done\"", "to = \"nowhere\"");
        assert!(Definition::parse_toml(&bad).unwrap_err().contains("unknown state"));
        let bad = MINI.replace("assignee = { role = \"r\", level = \"own\" }", "");
        assert!(Definition::parse_toml(&bad).unwrap_err().contains("needs an assignee"));
        let bad = MINI.replace("action = \"approve\"", "action = \"return\"");
        assert!(Definition::parse_toml(&bad).unwrap_err().contains("reserved"));
        let bad = MINI.replace("kind = \"end\"", "kind = \"task\"\nassignee = { role = \"r\", level = \"own\" }");
        assert!(Definition::parse_toml(&bad).unwrap_err().contains("end state"));
    }
}
