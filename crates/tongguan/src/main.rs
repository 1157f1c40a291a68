//! `tongguan` command line: serve, init, migrate, seed-demo, user, audit, openapi.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tg_iam::users::UserSpec;
use tg_iam::AuditCtx;
use tg_kernel::{RegionCode, SystemClock};
use tongguan::config::{Config, Overrides};
use tongguan::App;

#[derive(Parser)]
#[command(name = "tongguan", version, about = "统管 — 云浮市一网统管市域治理平台")]
struct Cli {
    /// TOML configuration file (also TONGGUAN_CONFIG).
    #[arg(long, global = true, env = "TONGGUAN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, keys, files).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://… or postgres://…
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default).
    Serve(ServeArgs),
    /// Production bootstrap: create the three separated administrators with one-time passwords.
    Init,
    /// Apply database migrations and load the pack's regions.
    Migrate,
    /// Create demo departments, grids and one demo account per role and level.
    SeedDemo,
    /// Manage accounts from the server console.
    #[command(subcommand)]
    User(UserCmd),
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Key hierarchy: list versions, rotate a purpose.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Integrity tools.
    #[command(subcommand)]
    Integrity(IntegrityCmd),
    /// Write an encrypted backup (SM4-GCM, SM3 manifest) of the whole database.
    Backup {
        /// Output file, e.g. tongguan-20261129.tgbak
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an EMPTY database (a fresh data dir or database), verifying it first.
    Restore {
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Release integrity: signing key and SM2-signed SM3 manifest (可信验证).
    #[command(subcommand)]
    Release(ReleaseCmd),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account (the user must change the password at first login).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// Role code; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Region code, e.g. 445302.
        #[arg(long)]
        region: String,
        /// Department code.
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Set a new password; the user must change it at next login.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
    /// Lock an account and end its sessions.
    Lock {
        #[arg(long)]
        username: String,
    },
    /// Unlock an account.
    Unlock {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Verify the hash chain; exits non-zero naming the first broken record.
    Verify,
    /// Sign the current chain head with the system SM2 key (the server does this daily).
    Checkpoint,
    /// Delete records older than N days (refused below the retention minimum of at least 180 days).
    Purge {
        #[arg(long)]
        older_than_days: i64,
    },
}

#[derive(Subcommand)]
enum ReleaseCmd {
    /// Create a release signing key (secret hex into --out, mode 0600; prints the public key).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the binary, the embedded web app and the --config file with the release key.
    Sign {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// List key versions (check values only).
    List,
    /// Add a new version of a purpose's keys: fields, audit, acl, pepper or signing.
    Rotate { purpose: String },
}

#[derive(Subcommand)]
enum IntegrityCmd {
    /// Check row MACs, encrypted fields, the audit chain and its checkpoints; exits 2 on any problem.
    Verify,
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let listen = match &command {
        Command::Serve(a) => a.listen.clone(),
        _ => None,
    };
    let overrides = Overrides { data_dir: cli.data_dir, database_url: cli.database_url, listen };
    let cfg = Config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    init_logging(&cfg);

    if let Command::Openapi = command {
        println!("{}", tg_api::openapi().to_pretty_json()?);
        return Ok(());
    }
    match &command {
        Command::Release(ReleaseCmd::Keygen { out }) => {
            let (secret, public) = tongguan::release::keygen();
            tongguan::write_secret(out, &secret)?;
            println!("{public}");
            return Ok(());
        }
        Command::Release(ReleaseCmd::Sign { key, out }) => {
            let m = tongguan::release::sign(&cfg, key)?;
            std::fs::write(out, serde_json::to_vec_pretty(&m)?)?;
            println!("signed {} files; public key {}", m.files.len(), m.public_key);
            return Ok(());
        }
        _ => {}
    }
    if let Err(e) = tongguan::release::verify(&cfg) {
        // Record the failure in the audit trail when the database opens, then refuse to start.
        if let Ok(app) = App::open(cfg.clone(), Arc::new(SystemClock)).await {
            let _ = app
                .iam
                .audit_alone(&AuditCtx::cli("start"), tg_iam::AuditEvent::failure("system.integrity", "release manifest", format!("{e:#}")))
                .await;
            let _ = app.iam.raise_alert("integrity", "critical", "程序或配置完整性校验失败", &format!("{e:#}")).await;
        }
        eprintln!("{e:#}");
        std::process::exit(3);
    }
    if let Command::Restore { input } = &command {
        let n = tongguan::backup::restore(&cfg, input).await?;
        println!("恢复完成：{n} 行数据已导入并通过校验");
        return Ok(());
    }
    let app = App::open(cfg, Arc::new(SystemClock)).await?;
    match command {
        Command::Serve(_) => {
            if app.seed_if_empty().await? {
                eprintln!("已在空数据库中生成云浮演示数据（演示账号密码见 README）。");
            }
            let demo = app.iam.demo_accounts_active().await?;
            if demo > 0 {
                tracing::warn!(demo_accounts = demo, "DEMO ACCOUNTS ARE ACTIVE — never expose this installation to real users");
                eprintln!("\n*** 警告：存在 {demo} 个演示账号（公开密码）。生产环境请勿使用演示数据。***\n");
            }
            app.spawn_jobs();
            let addr = app.config.server.listen.clone();
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(listen = %listener.local_addr()?, "tongguan serving");
            eprintln!("统管已启动：http://{}", listener.local_addr()?);
            tongguan::serve(&app, listener, shutdown_signal()).await?;
            app.iam.db().close().await;
        }
        Command::Init => {
            if app.iam.user_count().await? > 0 {
                bail!("already initialised: accounts exist");
            }
            let ctx = AuditCtx::cli("init");
            let city = RegionCode::parse(&app.pack.info.city_code)?;
            println!("已创建三员管理账号（一次性密码，首次登录须修改）：");
            for (login, name, role) in
                [("sysadmin", "系统管理员", "sysadmin"), ("secadmin", "安全管理员", "secadmin"), ("auditadmin", "审计管理员", "auditadmin")]
            {
                let password = tg_iam::import::generate_password();
                let spec = UserSpec {
                    username: login.into(),
                    display_name: name.into(),
                    password: password.clone(),
                    phone: None,
                    region: city.clone(),
                    department_id: None,
                    roles: vec![role.into()],
                    must_change_password: true,
                    is_demo: false,
                };
                let id = app.iam.insert_user(&ctx, &spec).await?;
                if role == "secadmin" {
                    // The security administrator holds the highest clearance to label others.
                    app.iam.set_clearance_unchecked(&ctx, id, tg_kernel::SecurityLabel::Sensitive).await?;
                }
                println!("  {login}\t{password}");
            }
        }
        Command::Migrate => println!("数据库已是最新版本"),
        Command::SeedDemo => {
            let r = tongguan::seed::seed_demo(&app.iam, &app.pack).await?;
            let events = app.seed_demo_map().await?;
            let values = app.seed_demo_indicators().await?;
            let projects = app.seed_demo_projects().await?;
            println!(
                "演示数据：{} 个部门，{} 个网格，{} 个账号，{} 个地图事件点，{} 个指标数值，{} 个招商项目",
                r.departments, r.grids, r.accounts, events, values, projects
            );
        }
        Command::User(cmd) => user_command(&app, cmd).await?,
        Command::Audit(AuditCmd::Checkpoint) => {
            let c = app.iam.checkpoint_audit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("checkpoint #{} at seq {}: SM2 signature {}\npublic key {}", c.id, c.last_seq, c.signature, c.public_key);
        }
        Command::Audit(AuditCmd::Purge { older_than_days }) => {
            let n = app.iam.purge_audit(&AuditCtx::cli("audit purge"), older_than_days).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("purged {n} audit records older than {older_than_days} days; the chain verifies from its anchor");
        }
        Command::Keys(KeysCmd::List) => {
            let k = app.iam.keys();
            println!("provider {} root KCV {}", k.provider_kind(), k.root_kcv());
            for i in k.list() {
                println!(
                    "{:<8} {:<18} v{:<3} {} kcv {} {}",
                    i.purpose.as_str(),
                    i.domain,
                    i.version,
                    if i.current { "current" } else { "old    " },
                    i.kcv,
                    i.created_at
                );
            }
        }
        Command::Keys(KeysCmd::Rotate { purpose }) => {
            let p = tg_iam::Purpose::parse(&purpose).with_context(|| format!("unknown purpose {purpose}"))?;
            let v = app.iam.rotate_keys(&AuditCtx::cli("keys rotate"), p).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("rotated {purpose}: new version v{v} (restart running servers to pick it up)");
        }
        Command::Integrity(IntegrityCmd::Verify) => {
            let r = app.iam.integrity_check_audited(&AuditCtx::cli("integrity verify")).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "checked {} roles, {} users, {} settings, {} encrypted fields, {} audit records",
                r.roles_checked, r.users_checked, r.settings_checked, r.fields_checked, r.audit.checked
            );
            if !r.ok {
                for p in &r.problems {
                    eprintln!("INTEGRITY_FAILED {} {}: {}", p.kind, p.id, p.detail);
                }
                std::process::exit(2);
            }
            println!("integrity intact");
        }
        Command::Backup { out } => {
            let m = tongguan::backup::backup(&app, &out).await?;
            println!("备份完成：{} 张表，{} 行，SM3 {}", m.tables.len(), m.total_rows(), m.payload_sm3);
        }
        Command::Restore { .. } => {}
        Command::Audit(AuditCmd::Verify) => {
            let r = tg_iam::audit::verify(app.iam.db(), app.iam.keys()).await?;
            if r.ok {
                println!("audit chain intact: {} records", r.checked);
            } else {
                eprintln!(
                    "audit chain BROKEN at record seq {}: {} ({} records verified before it)",
                    r.first_broken_seq.unwrap_or(0),
                    r.reason.unwrap_or_default(),
                    r.checked
                );
                std::process::exit(2);
            }
        }
        Command::Openapi | Command::Release(_) => {}
    }
    Ok(())
}

async fn user_command(app: &App, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create { username, password, roles, region, department, display_name, phone } => {
            let region = RegionCode::parse(&region)?;
            let department_id = match department {
                Some(code) => {
                    let row =
                        sqlx::query("SELECT id FROM departments WHERE code = $1").bind(&code).fetch_optional(app.iam.db().pool()).await?;
                    Some(sqlx::Row::try_get::<i64, _>(&row.with_context(|| format!("unknown department {code}"))?, 0)?)
                }
                None => None,
            };
            if app.iam.region_raw(&region).await?.is_none() {
                bail!("unknown region {region}");
            }
            let username = tg_iam::users::normalize_username(&username);
            if let Some(p) = tg_iam::users::password_problem(&password, &username, app.config.security.password_min_length) {
                bail!("weak password: {p}");
            }
            let spec = UserSpec {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                password,
                phone,
                region,
                department_id,
                roles,
                must_change_password: true,
                is_demo: false,
            };
            let id = app.iam.insert_user(&AuditCtx::cli("user create"), &spec).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created user #{id} {}", spec.username);
        }
        UserCmd::ResetPassword { username, password } => {
            app.iam
                .cli_reset_password(&AuditCtx::cli("user reset-password"), &username, &password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("password reset for {username}; it must be changed at next login");
        }
        UserCmd::Lock { username } => {
            app.iam.cli_set_status(&AuditCtx::cli("user lock"), &username, "locked").await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("locked {username}");
        }
        UserCmd::Unlock { username } => {
            app.iam.cli_set_status(&AuditCtx::cli("user unlock"), &username, "active").await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("unlocked {username}");
        }
    }
    Ok(())
}
