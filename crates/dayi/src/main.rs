//! `dayi`: the single binary of the Dayi hospital information system.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use dayi::{Settings, open_db, shutdown_signal, start};
use dayi_app::{Actor, App};

/// mimalloc returns freed pages to the system; glibc's allocator kept the
/// memory of large request bodies (the soak in docs/benchmarks.md: 182 MiB
/// idle after the load with glibc, whatever its tunables).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dayi",
    version,
    about = "大医 Dayi — 县乡医院信息系统 / hospital information system for county and township hospitals"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the staff console, patient portal and API (运行服务).
    Serve(Settings),
    /// Create the demo county medical community on first run, print its accounts, and serve it (演示).
    Demo {
        /// Also load this many generated patients into the county hospital (batched; for benchmarks).
        #[arg(long, default_value_t = 0)]
        patients: u64,
        #[command(flatten)]
        settings: Settings,
    },
    /// Bring the database schema up to date and exit (数据库迁移).
    Migrate(Settings),
    /// Manage staff accounts from the server's console (用户管理).
    User {
        #[command(subcommand)]
        cmd: UserCmd,
        #[command(flatten)]
        settings: Settings,
    },
    /// Write a consistent online copy of the database (SQLite: VACUUM INTO; PostgreSQL: pg_dump) (备份).
    Backup {
        /// Destination file; must not exist.
        dest: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Replace the database with a backup (stop the server first when on SQLite) (恢复).
    Restore {
        src: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Load data from another system (数据导入).
    Import {
        #[command(subcommand)]
        cmd: ImportCmd,
        #[command(flatten)]
        settings: Settings,
    },
    /// Audit-log tools (审计).
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account.
    Add {
        /// Organisation code, e.g. `wsxrmyy`.
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        /// Display name, e.g. 王建国.
        #[arg(long)]
        name: String,
        /// Role codes, comma-separated: admin, security_admin, audit_admin, registrar, triage_nurse, doctor, lab_tech,
        /// ward_nurse, insurance_officer, public_health, service_centre, quality_officer, director, party_secretary.
        #[arg(long)]
        roles: String,
        #[arg(long, env = "DAYI_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Set a new password (ends the account's sessions).
    ResetPassword {
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        #[arg(long, env = "DAYI_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Require a second factor (TOTP) for one account; `--off` lifts it.
    #[command(name = "require-2fa")]
    Require2fa {
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// FHIR R4: Bundles (.json) or bulk NDJSON (.ndjson), one file or a directory; safe to repeat.
    Fhir {
        /// A file or a directory of files.
        path: PathBuf,
        /// Organisation code, e.g. `wsxrmyy`.
        #[arg(long)]
        org: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the hash chain of every organisation (or one) and report the first broken entry.
    Verify {
        #[arg(long)]
        org: Option<String>,
        /// Anchor file (`org_code seq hash at` lines, as audit_anchor_file writes them; repeatable): every entry
        /// it names must still be in the chain with that hash, which also catches the newest entries deleted.
        #[arg(long, value_name = "FILE")]
        anchor: Vec<PathBuf>,
    },
}

const DEFAULT_DB: &str = "sqlite:./data/dayi.db";
const DEMO_DB: &str = "sqlite:./data/demo.db";

fn init_tracing(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .try_init();
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("错误 / error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve(s) => serve(&s, DEFAULT_DB, None).await,
        Cmd::Demo { patients, settings } => serve(&settings, DEMO_DB, Some(patients)).await,
        Cmd::Migrate(s) => {
            let r = Settings::resolve(&s, DEFAULT_DB)?;
            init_tracing(&r.log);
            open_db(&r.db).await?;
            println!("数据库已是最新结构 / schema up to date: {}", r.db.url);
            Ok(())
        }
        Cmd::User { cmd, settings } => user(cmd, &settings).await,
        Cmd::Backup { dest, settings } => {
            let r = existing(&settings)?;
            let db = open_db(&r.db).await?;
            dayi_store::backup::backup(&db, &r.db.url, &dest).await?;
            println!("备份完成 / backup written: {}", dest.display());
            print_heads(&db, r.audit_anchor_file.as_deref()).await
        }
        Cmd::Restore { src, settings } => {
            let r = Settings::resolve(&settings, DEFAULT_DB)?;
            dayi_store::backup::restore(&r.db.url, &src).await?;
            open_db(&r.db).await?;
            println!("恢复完成 / restored {} from {}", r.db.url, src.display());
            Ok(())
        }
        Cmd::Audit { cmd: AuditCmd::Verify { org, anchor }, settings } => audit_verify(org, &anchor, &settings).await,
        Cmd::Import { cmd: ImportCmd::Fhir { path, org }, settings } => import_fhir(&path, &org, &settings).await,
    }
}

async fn import_fhir(path: &std::path::Path, org: &str, s: &Settings) -> anyhow::Result<()> {
    let app = cli_app(s).await?;
    let actor = org_actor(&app, org).await?;
    let started = std::time::Instant::now();
    let summary = dayi::import::fhir(&app, &actor, org, path).await?;
    let secs = started.elapsed().as_secs_f64();
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join("，")
    };
    println!("读取 {} 个文件，用时 {secs:.1} 秒 / {} file(s) in {secs:.1} s", summary.files, summary.files);
    println!("新建 / created: {}", list(&summary.created));
    println!("已存在 / already present: {}", list(&summary.existing));
    for r in summary.refused.iter().take(20) {
        println!("拒绝 / refused: {r}");
    }
    // Let the audit writer finish before the process exits.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    if !summary.refused.is_empty() {
        bail!("{} 条未导入 / entries not imported", summary.refused.len());
    }
    Ok(())
}

/// Serves; `demo` holds how many generated patients to add to the demo data.
async fn serve(s: &Settings, default_db: &str, demo: Option<u64>) -> anyhow::Result<()> {
    let r = Settings::resolve(s, default_db)?;
    init_tracing(&r.log);
    let db = open_db(&r.db).await?;
    let server = start(db, &r).await?;
    if let Some(patients) = demo {
        let accounts = dayi_app::demo::seed(&server.app).await.map_err(|e| anyhow::anyhow!("{}", e.zh()))?;
        print_demo(&accounts);
        if patients > 0 {
            load_patients(&server.app, patients).await?;
        }
        let queued = dayi_app::demo::queue::fill_today(&server.app).await.map_err(|e| anyhow::anyhow!("{}", e.zh()))?;
        if queued > 0 {
            println!(
                "今日演示候诊 {queued} 人 / {queued} demo patients waiting today: /queue (doc01), /queue/screen?dept=03"
            );
        }
    }
    println!("大医 Dayi 已启动 / listening on {}  (数据库 / database: {})", server.url(), r.db.url);
    shutdown_signal().await;
    println!("正在停止 / shutting down…");
    server.stop().await;
    Ok(())
}

async fn load_patients(app: &dayi_app::App, n: u64) -> anyhow::Result<()> {
    let org = dayi_store::tenancy::org_by_code(&app.db, "wsxrmyy")
        .await?
        .ok_or_else(|| anyhow::anyhow!("演示机构不存在 / demo hospital missing"))?;
    let started = std::time::Instant::now();
    let done =
        dayi_app::demo::load_patients(app, org.org_id, n, 2026).await.map_err(|e| anyhow::anyhow!("{}", e.zh()))?;
    let secs = started.elapsed().as_secs_f64();
    println!("已载入 {done} 名患者 / loaded {done} patients in {secs:.1} s ({:.0}/s)", done as f64 / secs);
    Ok(())
}

fn print_demo(accounts: &[dayi_app::demo::DemoAccount]) {
    if accounts.is_empty() {
        println!(
            "演示数据已存在 / demo data already present. 初始密码 / initial password: {}",
            dayi_app::demo::DEMO_PASSWORD
        );
        return;
    }
    println!(
        "已创建演示医共体 / demo county medical community created. 所有账号初始密码 / password for all: {}",
        dayi_app::demo::DEMO_PASSWORD
    );
    let mut org = String::new();
    for a in accounts {
        if a.org_code != org {
            org = a.org_code.clone();
            println!("\n  {}（机构代码 org code: {}）", a.org_name, a.org_code);
        }
        println!("    {:<10} {:<8} {}", a.username, a.name, a.roles);
    }
    println!();
}

/// Settings for a command that works on existing data: a SQLite file that is
/// not there is an error (a typo must not create a fresh, empty database).
fn existing(s: &Settings) -> anyhow::Result<dayi::Resolved> {
    let r = Settings::resolve(s, DEFAULT_DB)?;
    if let Some(path) = dayi_store::db::sqlite_path(&r.db.url)
        && !std::path::Path::new(&path).exists()
    {
        bail!("数据库文件不存在 / database file not found: {path}（演示数据在 / demo data is in ./data/demo.db）");
    }
    Ok(r)
}

async fn cli_app(s: &Settings) -> anyhow::Result<App> {
    let r = existing(s)?;
    init_tracing("warn");
    let mut app = App::new(open_db(&r.db).await?, r.security.clone());
    dayi::use_sms_gateway(&mut app, &r)?;
    Ok(app)
}

async fn org_actor(app: &App, code: &str) -> anyhow::Result<Actor> {
    let orgs = dayi_app::tenancy::list_orgs(app).await.map_err(|e| anyhow::anyhow!("{}", e.zh()))?;
    let org =
        orgs.iter().find(|o| o.code == code).with_context(|| format!("机构不存在 / unknown organisation: {code}"))?;
    Ok(Actor::cli(org.org_id))
}

fn zh(e: dayi_core::DomainError) -> anyhow::Error {
    let fields: Vec<String> = e.fields.iter().map(|f| format!("{}: {}", f.field, f.zh())).collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", e.zh())
    } else {
        anyhow::anyhow!("{}（{}）", e.zh(), fields.join("；"))
    }
}

async fn user(cmd: UserCmd, s: &Settings) -> anyhow::Result<()> {
    let app = cli_app(s).await?;
    match cmd {
        UserCmd::Add { org, username, name, roles, password } => {
            let actor = org_actor(&app, &org).await?;
            let f = dayi_app::staff::NewStaff {
                username,
                display_name: name,
                dept_id: None,
                roles: roles.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
                password,
            };
            let st = dayi_app::staff::create(&app, &actor, &f).await.map_err(zh)?;
            println!("已添加用户 / user added: {} ({})", st.username, st.roles);
        }
        UserCmd::ResetPassword { org, username, password } => {
            let actor = org_actor(&app, &org).await?;
            let st = dayi_app::staff::find(&app, &actor, &username).await.map_err(zh)?;
            dayi_app::staff::reset_password(&app, &actor, st.id, &password).await.map_err(zh)?;
            println!("密码已重置 / password reset: {}", st.username);
        }
        UserCmd::Require2fa { org, username, off } => {
            let actor = org_actor(&app, &org).await?;
            let st = dayi_app::staff::find(&app, &actor, &username).await.map_err(zh)?;
            dayi_app::staff::require_totp(&app, &actor, st.id, !off).await.map_err(zh)?;
            println!(
                "{}: 双因素认证 / two-factor {}",
                st.username,
                if off { "不再强制 / optional" } else { "已强制 / required" }
            );
        }
    }
    // Let the audit writer finish before the process exits.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Ok(())
}

/// Prints every organisation's audit head (to keep with the backup) and
/// anchors it in the anchor file when there is one.
async fn print_heads(db: &dayi_store::Db, anchor_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let heads = dayi_app::anchor::current(db).await?;
    println!("审计链头 / audit heads (org_code seq hash at):");
    for a in &heads {
        println!("  {}", a.line());
    }
    if let Some(path) = anchor_file {
        dayi_app::anchor::append(path, &heads)
            .await
            .with_context(|| format!("无法写入审计锚点 / cannot write audit anchors to {}", path.display()))?;
    }
    Ok(())
}

/// Every anchor of the files given, by organisation code.
fn read_anchors(
    files: &[PathBuf],
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<dayi_core::anchor::Anchor>>> {
    let mut by_org: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("无法读取锚点文件 / cannot read anchor file {}", f.display()))?;
        let anchors = dayi_core::anchor::Anchor::parse_all(&text)
            .map_err(|e| anyhow::anyhow!("锚点文件有误 / bad anchor file {}: {e}", f.display()))?;
        for a in anchors {
            by_org.entry(a.org_code.clone()).or_default().push(a);
        }
    }
    Ok(by_org)
}

async fn audit_verify(org: Option<String>, anchor_files: &[PathBuf], s: &Settings) -> anyhow::Result<()> {
    let mut anchors = read_anchors(anchor_files)?;
    let app = cli_app(s).await?;
    let orgs = dayi_app::tenancy::list_orgs(&app).await.map_err(zh)?;
    let mut broken = 0;
    for o in orgs.iter().filter(|o| org.as_deref().is_none_or(|c| c == o.code)) {
        let actor = Actor::cli(o.org_id);
        let r = dayi_app::audit::verify(&app, &actor).await.map_err(zh)?;
        match r.broken {
            None => println!("{}（{}）: 完整 / intact, {} 条 entries", o.name, o.code, r.checked),
            Some(b) => {
                broken += 1;
                println!("{}（{}）: 校验失败 / BROKEN at entry {}: {:?}", o.name, o.code, b.seq(), b);
            }
        }
        let Some(mine) = anchors.remove(&o.code) else { continue };
        let c = dayi_app::anchor::check(&app, &actor, &mine).await.map_err(zh)?;
        match c.broken {
            None => println!("{}（{}）: 与 {} 个锚点一致 / matches {} anchors", o.name, o.code, c.checked, c.checked),
            Some((a, b)) => {
                broken += 1;
                println!(
                    "{}（{}）: 锚点校验失败 / ANCHOR MISMATCH: {} 个锚点不符 / {} of {} anchors fail; first: entry {} \
                     anchored {} — {:?}",
                    o.name,
                    o.code,
                    c.failed,
                    c.failed,
                    c.checked,
                    a.seq,
                    a.line(),
                    b
                );
            }
        }
    }
    // Anchored organisations that are no longer in the database at all.
    for (code, list) in anchors.iter().filter(|(c, _)| org.as_deref().is_none_or(|o| o == c.as_str())) {
        broken += 1;
        let newest = list.iter().map(|a| a.seq).max().unwrap_or(0);
        println!("{code}: 机构已不在数据库中 / MISSING: anchored up to entry {newest}, not in the database");
    }
    if broken > 0 {
        bail!("{broken} 个机构的审计日志被篡改 / organisation(s) with a broken audit chain");
    }
    Ok(())
}
