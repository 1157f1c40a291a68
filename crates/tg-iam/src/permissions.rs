//! The permission catalogue (`resource:action`, RuoYi-style codes) and the built-in roles.
//!
//! Permissions are code: each one is checked by a handler. Roles are data: administrators compose
//! them from permissions. Built-in roles are created at start-up and cannot be edited, which keeps the
//! separation of the three administrators (三员分立) intact.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PermissionDef {
    pub code: &'static str,
    pub name: &'static str,
    pub group: &'static str,
}

pub const CATALOGUE: &[PermissionDef] = &[
    PermissionDef { code: "region:read", name: "查看行政区划", group: "行政区划" },
    PermissionDef { code: "region:write", name: "维护组(网格)", group: "行政区划" },
    PermissionDef { code: "dept:read", name: "查看部门", group: "部门管理" },
    PermissionDef { code: "dept:write", name: "维护部门", group: "部门管理" },
    PermissionDef { code: "user:read", name: "查看用户", group: "用户管理" },
    PermissionDef { code: "user:create", name: "新增用户", group: "用户管理" },
    PermissionDef { code: "user:update", name: "修改用户", group: "用户管理" },
    PermissionDef { code: "user:reset_password", name: "重置密码", group: "用户管理" },
    PermissionDef { code: "user:lock", name: "锁定/解锁用户", group: "用户管理" },
    PermissionDef { code: "user:delete", name: "停用用户", group: "用户管理" },
    PermissionDef { code: "role:read", name: "查看角色", group: "角色与授权" },
    PermissionDef { code: "role:write", name: "维护角色", group: "角色与授权" },
    PermissionDef { code: "grant:write", name: "分配角色", group: "角色与授权" },
    PermissionDef { code: "audit:read", name: "查看审计日志", group: "安全审计" },
    PermissionDef { code: "audit:export", name: "导出审计日志", group: "安全审计" },
    PermissionDef { code: "audit:verify", name: "校验审计链", group: "安全审计" },
    PermissionDef { code: "config:read", name: "查看系统配置", group: "系统配置" },
    PermissionDef { code: "config:write", name: "修改系统配置", group: "系统配置" },
    PermissionDef { code: "security:read", name: "查看安全策略与密钥状态", group: "安全管理" },
    PermissionDef { code: "security:write", name: "修改安全策略与访问白名单", group: "安全管理" },
    PermissionDef { code: "keys:rotate", name: "轮换密钥", group: "安全管理" },
    PermissionDef { code: "integrity:verify", name: "完整性校验", group: "安全管理" },
    PermissionDef { code: "mfa:reset", name: "重置用户动态口令令牌", group: "安全管理" },
    PermissionDef { code: "pii:unmask", name: "查看未脱敏个人信息", group: "个人信息保护" },
    PermissionDef { code: "map:read", name: "查看地图图层与空间查询", group: "全域智图" },
    PermissionDef { code: "map:write", name: "采集和维护地图要素", group: "全域智图" },
    PermissionDef { code: "map:layer", name: "管理图层与行政区划边界", group: "全域智图" },
    PermissionDef { code: "ind:read", name: "查看指标与专题看板", group: "掌上数窗" },
    PermissionDef { code: "ind:manage", name: "维护指标库、专题与看板", group: "掌上数窗" },
    PermissionDef { code: "ind:data", name: "载入指标数据", group: "掌上数窗" },
    PermissionDef { code: "ind:instruct", name: "下达领导批示", group: "掌上数窗" },
    PermissionDef { code: "ind:handle", name: "办理领导批示", group: "掌上数窗" },
    PermissionDef { code: "ind:export", name: "导出指标数据", group: "掌上数窗" },
    PermissionDef { code: "wf:admin", name: "查看流程定义、维护工作日历", group: "流程中心" },
    PermissionDef { code: "inv:read", name: "查看招商引资项目", group: "招商引资" },
    PermissionDef { code: "inv:write", name: "填报和维护招商引资项目", group: "招商引资" },
    PermissionDef { code: "inv:review", name: "县区在谈项目审核", group: "招商引资" },
    PermissionDef { code: "inv:city", name: "市投促复核（签约复核、达标达产审核）", group: "招商引资" },
    PermissionDef { code: "inv:import", name: "导入旧项目数据", group: "招商引资" },
    PermissionDef { code: "inv:export", name: "导出招商引资项目", group: "招商引资" },
];

pub fn is_known(code: &str) -> bool {
    CATALOGUE.iter().any(|p| p.code == code)
}

/// The three administrative duties that no single account may combine (三员分立).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminDuty {
    System,
    Security,
    Audit,
}

impl AdminDuty {
    pub fn label(self) -> &'static str {
        match self {
            Self::System => "系统管理",
            Self::Security => "安全管理",
            Self::Audit => "安全审计",
        }
    }
}

/// Which separated duty a permission belongs to, if any. Read permissions that every duty needs for
/// its own work (region:read, dept:read, user:read, role:read) belong to none.
pub fn duty_of(permission: &str) -> Option<AdminDuty> {
    match permission {
        "user:create"
        | "user:update"
        | "user:reset_password"
        | "user:lock"
        | "user:delete"
        | "dept:write"
        | "region:write"
        | "config:read"
        | "config:write"
        | "map:layer"
        | "wf:admin" => Some(AdminDuty::System),
        "role:write" | "grant:write" | "security:read" | "security:write" | "keys:rotate" | "integrity:verify" | "mfa:reset" => {
            Some(AdminDuty::Security)
        }
        "audit:read" | "audit:export" | "audit:verify" => Some(AdminDuty::Audit),
        _ => None,
    }
}

/// The duties a set of permissions spans; more than one is a separation-of-duties violation.
pub fn duties<'a>(perms: impl IntoIterator<Item = &'a str>) -> Vec<AdminDuty> {
    let mut out = Vec::new();
    for p in perms {
        if let Some(d) = duty_of(p) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
pub struct BuiltinRole {
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub data_scope: &'static str,
    pub permissions: &'static [&'static str],
    /// Sessions of holders must reach assurance level 2 (password + SM3 dynamic password).
    pub require_mfa: bool,
}

pub const SYSADMIN: &str = "sysadmin";
pub const SECADMIN: &str = "secadmin";
pub const AUDITADMIN: &str = "auditadmin";

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        code: SYSADMIN,
        name: "系统管理员",
        description: "管理用户、部门、行政区划和系统配置；不能查看审计日志，不能分配角色",
        data_scope: "subtree",
        permissions: &[
            "region:read",
            "region:write",
            "dept:read",
            "dept:write",
            "user:read",
            "user:create",
            "user:update",
            "user:reset_password",
            "user:lock",
            "user:delete",
            "role:read",
            "config:read",
            "config:write",
            "map:read",
            "map:layer",
            "wf:admin",
        ],
        require_mfa: true,
    },
    BuiltinRole {
        code: SECADMIN,
        name: "安全管理员",
        description: "维护角色与授权；不能管理业务数据",
        data_scope: "subtree",
        permissions: &[
            "region:read",
            "dept:read",
            "user:read",
            "role:read",
            "role:write",
            "grant:write",
            "security:read",
            "security:write",
            "keys:rotate",
            "integrity:verify",
            "mfa:reset",
        ],
        require_mfa: true,
    },
    BuiltinRole {
        code: AUDITADMIN,
        name: "审计管理员",
        description: "查看、导出和校验审计日志",
        data_scope: "subtree",
        permissions: &["audit:read", "audit:export", "audit:verify"],
        require_mfa: true,
    },
    BuiltinRole {
        code: "city_leader",
        name: "市领导",
        description: "查看全市数据",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "user:read", "map:read", "ind:read", "ind:instruct", "ind:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "county_leader",
        name: "县区领导",
        description: "查看本县(市、区)及下级数据",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "user:read", "map:read", "ind:read", "ind:instruct", "ind:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "town_staff",
        name: "镇街工作人员",
        description: "处理本镇(街道)及下级业务",
        data_scope: "subtree",
        permissions: &["region:read", "user:read", "map:read", "map:write", "ind:read"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "grid_worker",
        name: "网格员",
        description: "负责本村(社区)及网格的采集与巡查",
        data_scope: "subtree",
        permissions: &["region:read", "map:read", "map:write"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "dept_clerk",
        name: "部门业务员",
        description: "处理本部门业务，数据范围限于本部门",
        data_scope: "subtree_dept",
        permissions: &["region:read", "dept:read", "map:read", "ind:read", "ind:data", "ind:handle", "ind:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "ind_admin",
        name: "指标管理员",
        description: "维护掌上数窗的指标库、专题看板与标签属性，载入指标数据",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "ind:read", "ind:manage", "ind:data", "ind:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "inv_staff",
        name: "县区投促部门工作人员",
        description: "填报本县(市、区)招商引资项目：首接信息、评审备案、签约、达标达产、流转与旧数据",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "inv:read", "inv:write", "inv:import", "inv:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "inv_leader",
        name: "县区投促部门领导",
        description: "审核本县(市、区)在谈项目与评审备案资料",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "inv:read", "inv:review", "inv:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "inv_city",
        name: "市投促工作人员",
        description: "复核全市招商引资项目的签约与达标达产，查看全市项目与统计",
        data_scope: "subtree",
        permissions: &["region:read", "dept:read", "inv:read", "inv:write", "inv:city", "inv:import", "inv:export"],
        require_mfa: false,
    },
    BuiltinRole {
        code: "pii_officer",
        name: "个人信息核验员",
        description: "经授权查看未脱敏的个人信息（每次查看须填写事由并记入审计）",
        data_scope: "subtree",
        permissions: &["region:read", "user:read", "pii:unmask"],
        require_mfa: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_use_known_permissions_and_respect_separation() {
        for r in BUILTIN_ROLES {
            for p in r.permissions {
                assert!(is_known(p), "{} uses unknown {p}", r.code);
            }
            assert!(duties(r.permissions.iter().copied()).len() <= 1, "{} spans duties", r.code);
        }
        // Each of the three administrators has exactly its own duty.
        for (code, duty) in [(SYSADMIN, AdminDuty::System), (SECADMIN, AdminDuty::Security), (AUDITADMIN, AdminDuty::Audit)] {
            let r = BUILTIN_ROLES.iter().find(|r| r.code == code).unwrap();
            assert_eq!(duties(r.permissions.iter().copied()), vec![duty]);
        }
    }

    #[test]
    fn catalogue_codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for p in CATALOGUE {
            assert!(seen.insert(p.code), "duplicate {}", p.code);
            let (res, act) = p.code.split_once(':').unwrap();
            assert!(!res.is_empty() && !act.is_empty());
        }
    }
}
