//! One statement (a patient read by key) through each SQLite path:
//! sqlx's connection threads, rusqlite on this thread (`Lite::read`) and
//! rusqlite on tokio's blocking pool (`Lite::scan`).
//!
//! `cargo bench -p dayi-store --bench read`

use std::sync::LazyLock;

use dayi_store::lite::{self, FromLite};
use dayi_store::patient::Patient;
use dayi_store::tenancy::Org;
use dayi_store::{Db, DbConfig};
use uuid::Uuid;

const PATIENTS: usize = 10_000;

struct Fixture {
    rt: tokio::runtime::Runtime,
    db: Db,
    org: Uuid,
    ids: Vec<Uuid>,
    _dir: tempfile::TempDir,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let (db, org, ids) = rt.block_on(async {
        let db = Db::connect(&DbConfig::new(&url)).await.expect("open");
        db.migrate().await.expect("migrate");
        let org = Org {
            org_id: Uuid::now_v7(),
            code: "bench".into(),
            name: "汶上县人民医院".into(),
            kind: "county_hospital".into(),
            tier: "二级甲等".into(),
            region_code: "370830".into(),
            parent_org_id: None,
            created_at: 0,
        };
        let rows: Vec<Patient> = (0..PATIENTS).map(|n| patient(org.org_id, n)).collect();
        let mut tx = db.begin().await.expect("begin");
        dayi_store::tenancy::insert_org(&mut tx, &org).await.expect("org");
        dayi_store::patient::insert(&mut tx, &rows).await.expect("patients");
        tx.commit().await.expect("commit");
        (db, org.org_id, rows.into_iter().map(|p| p.id).collect())
    });
    Fixture { rt, db, org, ids, _dir: dir }
});

fn patient(org_id: Uuid, n: usize) -> Patient {
    Patient {
        org_id,
        id: Uuid::now_v7(),
        hospital_no: format!("{}", 2_000_000_000 + n),
        card_id: format!("{n:064X}"),
        name: "王秀英".into(),
        name_pinyin: "wangxiuying".into(),
        name_initials: "wxy".into(),
        sex: "2".into(),
        birth_date: "1958-03-01".into(),
        ethnicity: Some("01".into()),
        id_kind: None,
        id_number: None,
        id_rev: None,
        nationality: Some("CHN".into()),
        phone: Some(format!("1390000{n:04}")),
        address: Some("山东省济宁市汶上县中都街道".into()),
        region_code: Some("370830".into()),
        insurance: "resident".into(),
        emergency_name: None,
        emergency_relation: None,
        emergency_phone: None,
        guardian_name: None,
        guardian_relation: None,
        guardian_id_number: None,
        guardian_phone: None,
        channel: "counter".into(),
        merged_into: None,
        created_by: "reg01".into(),
        created_at: 0,
        updated_at: 0,
    }
}

const SQL: &str = "SELECT org_id, id, hospital_no, card_id, name, name_pinyin, name_initials, sex, birth_date, \
    ethnicity, id_kind, id_number, id_rev, nationality, phone, address, region_code, insurance, emergency_name, \
    emergency_relation, emergency_phone, guardian_name, guardian_relation, guardian_id_number, guardian_phone, \
    channel, merged_into, created_by, created_at, updated_at FROM patient WHERE org_id = $1 AND id = $2";

fn next_id(i: &mut usize) -> Uuid {
    let f = &*FIXTURE;
    *i = (*i + 7919) % f.ids.len();
    f.ids[*i]
}

#[divan::bench]
fn sqlx_connection_thread(b: divan::Bencher) {
    let f = &*FIXTURE;
    let Db::Sqlite { read, .. } = &f.db else { unreachable!() };
    let mut i = 0;
    b.bench_local(|| {
        let id = next_id(&mut i);
        f.rt.block_on(async {
            sqlx::query_as::<_, Patient>(SQL).bind(f.org).bind(id).fetch_optional(read).await.expect("read")
        })
    });
}

#[divan::bench]
fn lite_on_caller(b: divan::Bencher) {
    let f = &*FIXTURE;
    let mut i = 0;
    b.bench_local(|| {
        let id = next_id(&mut i);
        f.rt.block_on(async { dayi_store::patient::get(&f.db, f.org, id).await.expect("read") })
    });
}

#[divan::bench]
fn lite_on_blocking_pool(b: divan::Bencher) {
    let f = &*FIXTURE;
    let Db::Sqlite { lite, .. } = &f.db else { unreachable!() };
    let mut i = 0;
    b.bench_local(|| {
        let (org, id) = (f.org, next_id(&mut i));
        f.rt.block_on(async {
            lite.scan(move |c| lite::optional(c, SQL, &[&org, &id], Patient::from_lite)).await.expect("read")
        })
    });
}

fn main() {
    divan::main();
}
