//! The permission-boundary suite (issue 14's acceptance), against the real stack: trm-init as PID 1
//! boots Directus 11.17.4 on PostgreSQL with the repository's schema and access file, once for the
//! whole suite. Two organisations, a user per organisation role in each, a user in no organisation and
//! a user with different roles in the two. For every role, collection and action the expectation below
//! is written by hand from CONTEXT.md "Phase 4" (not derived from the access file), and checked through
//! the REST API logged in as that user — allowed cells as well as refused ones, so a policy that grants
//! too much fails as surely as one that grants too little. Rows of the other organisation are never
//! readable, updatable or deletable, creating in it is refused, and no row of one's own organisation
//! can be moved into it. Flagging positions goes through the extension's `POST /faulty-positions`.
//!
//! Directus runs with its data cache on Redis and `CACHE_AUTO_PURGE` (deploy/ keeps the data cache off;
//! this is the harder case), so "a user removed from an organisation loses access at once" is checked
//! with a cache that holds the `$CURRENT_USER` values the filters read.

use trm_test_support as common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(240);
const STREAM: &str = "boundary:recompute";
/// A valid polygon and point near Durrës (WGS 84), as GeoJSON for the API and WKT for SQL.
const POLYGON_JSON: &str =
    r#"{"type":"Polygon","coordinates":[[[19.40,41.30],[19.50,41.30],[19.50,41.40],[19.40,41.40],[19.40,41.30]]]}"#;
const POLYGON_SQL: &str = "ST_GeomFromText('POLYGON((19.4 41.3, 19.5 41.3, 19.5 41.4, 19.4 41.4, 19.4 41.3))', 4326)";
const POINT_SQL: &str = "ST_GeomFromText('POINT(19.45 41.35)', 4326)";
const PASSWORD: &str = "boundary-pw-1";

/// Organisation roles by letter, as the tables below use them; `N` is the user in no organisation.
const ROLES: [(char, &str); 7] = [
    ('A', "org-admin"),
    ('D', "race-director"),
    ('M', "marshal"),
    ('T', "timekeeper"),
    ('P', "participant"),
    ('V', "viewer"),
    ('N', "none"),
];

// Who may do what on a row of their own organisation (letters of ROLES). Nobody may touch the other
// organisation's rows. Reasons, from CONTEXT.md "Phase 4":
// - every member reads the organisation, its events and classes;
// - org-admin: everything inside the organisation (members, vehicles, devices, events, classes,
//   entries), but no organisation is created or deleted by anyone but a platform admin;
// - race-director: entries and what they carry; reads people, vehicles and devices;
// - marshal: reads entries, vehicles, devices; writes entry notes during the event only;
// - timekeeper: reads every entry; changes start targets (entry_segment_starts.target_at) and nothing
//   about penalties;
// - participant: registers entries (and themselves as crew), reads the start list, vehicles; changes
//   to a registration go through the organisers; sees their own entries' crossings, penalties and
//   results, and of other entries only published (official) results;
// - viewer: reads events, classes, entries, crews, vehicles, the start list and official results.
// The course (Phase 2) and the timing (Phase 3), with the project's choices where CONTEXT.md is silent:
// - every member reads the course but the waypoints (hidden waypoints are what a roadbook's navigation
//   is about: officials only), the penalty brackets (the published regulations) and the start list;
// - org-admin and race-director write the course, the brackets, the start list and manual crossings,
//   review penalties (override / void) and publish results;
// - the processor's crossings, penalties and results are never created, edited or deleted by a person
//   (a recompute would undo it): crossings by hand are marked manual, penalties are overridden or
//   voided, results published;
// - officials (org-admin, race-director, marshal, timekeeper) read every entry's crossings, penalties
//   and results.
// The rows the Phase 3 cells read belong to an entry the participant does not race in.
const READ: &[(&str, &str)] = &[
    ("organizations", "ADMTPV"),
    ("organization_users", "AD"), // another member's membership; everyone reads their own (below)
    ("directus_users", "AD"),     // another member's account; everyone reads their own (below)
    ("vehicles", "ADMTPV"),
    ("organization_vehicles", "ADMTPV"), // reading a vehicle goes through its registration
    ("devices", "ADM"),
    ("organization_devices", "ADM"),
    ("events", "ADMTPV"),
    ("classes", "ADMTPV"),
    ("entries", "ADMTPV"),
    ("entry_crew", "ADMTV"), // the extra member's crew row; a participant reads only their own crew row
    ("entry_devices", "ADMT"),
    ("stages", "ADMTPV"),
    ("segments", "ADMTPV"),
    ("geofences", "ADMTPV"),
    ("waypoints", "ADMT"),
    ("speed_limit_zones", "ADMTPV"),
    ("penalty_formulas", "ADMTPV"),
    ("entry_segment_starts", "ADMTPV"),
    ("entry_crossings", "ADMT"),
    ("entry_penalties", "ADMT"),
    ("stage_results", "ADMT"), // provisional, of another entry
    // Phase 6: every published version (provisional ones too) and its entries are a publication: every
    // member of the organisation reads them. The timing ledger is no collection (checked below).
    ("result_versions", "ADMTPV"),
    ("result_version_entries", "ADMTPV"),
];
/// Reads of particular rows: the participant's own entry's timing, and a published result.
const READ_ROWS: &[(&str, &str)] = &[
    ("entry_crossings/own", "ADMTP"),
    ("entry_penalties/own", "ADMTP"),
    ("stage_results/own", "ADMTP"),
    ("stage_results/official", "ADMTPV"),
];
const CREATE: &[(&str, &str)] = &[
    ("organizations", ""),
    ("organization_users", "A"),
    ("directus_users", ""),
    ("vehicles", "ADMTPVN"), // belongs to no organisation until registered: any TRM member (README, limits)
    ("organization_vehicles", "AP"),
    ("devices", "ADMTPVN"), // likewise
    ("organization_devices", "A"),
    ("events", "A"),
    ("classes", "A"),
    ("entries", "ADP"),
    ("entry_crew", "ADP"),
    ("entry_devices", "AD"),
    ("stages", "AD"),
    ("segments", "AD"),
    ("geofences", "AD"),
    ("waypoints", "AD"),
    ("speed_limit_zones", "AD"),
    ("penalty_formulas", "AD"),
    ("entry_segment_starts", "AD"),
    ("entry_crossings", "AD"),         // by hand: marked manual
    ("entry_crossings/processor", ""), // claiming to be the processor
    ("entry_penalties", ""),
    ("stage_results", ""),
    ("entry_crew/someone-else", "AD"), // a participant adds only themselves
    ("result_versions", "AD"),         // publishing (a provisional version here); the database fills the rest
    ("result_version_entries", ""),    // written only by the publication
];
const UPDATE: &[(&str, &str)] = &[
    ("organizations", "A"),
    ("organization_users", "A"),
    ("directus_users", ""), // another member's account; everyone updates their own (below)
    ("vehicles", "A"),
    ("organization_vehicles", "A"),
    ("devices", "A"),
    ("organization_devices", "A"),
    ("events", "A"),
    ("classes", "A"),
    ("entries/notes", "ADM"), // during the event
    ("entries/class_id", "AD"),
    ("entry_crew", "AD"),
    ("entry_devices", "AD"),
    ("stages", "AD"),
    ("segments", "AD"),
    ("geofences", "AD"),
    ("waypoints", "AD"),
    ("speed_limit_zones", "AD"),
    ("penalty_formulas", "AD"),
    ("entry_segment_starts/target_at", "ADT"),
    ("entry_segment_starts/start_position", "AD"),
    ("entry_crossings", "AD"), // a manual one
    ("entry_crossings/processor", ""),
    ("entry_penalties/override", "AD"),
    ("entry_penalties/seconds", ""),
    ("stage_results/publish", "AD"),
    ("stage_results/times", ""),
    ("result_versions", ""), // immutable: a new publication, never an edit
    ("result_version_entries", ""),
];
/// Moving a row of one's own organisation into the other one (the owner key, or what the row points
/// at, set to the other organisation's row): refused for everyone.
const MOVE: &[(&str, &str)] = &[
    ("events", "organization_id"),
    ("classes", "event_id"),
    ("entries", "event_id"),
    ("entries", "class_id"),
    ("entry_crew", "entry_id"),
    ("entry_devices", "entry_id"),
    ("stages", "event_id"),
    ("segments", "stage_id"),
    ("geofences", "event_id"),
    ("waypoints", "segment_id"),
    ("speed_limit_zones", "segment_id"),
    ("penalty_formulas", "event_id"),
    ("entry_segment_starts", "entry_id"),
    ("entry_segment_starts", "segment_id"),
    ("entry_crossings", "entry_id"),
    ("entry_crossings", "geofence_id"),
    ("entry_penalties", "entry_id"),
    ("stage_results", "entry_id"),
    ("result_versions", "stage_id"),
];
/// Flagging a device's positions (POST /faulty-positions): org-admin and race-director always,
/// marshal while the event runs.
const FLAG: &[(&str, &str)] = &[("current event", "ADM"), ("past event", "AD")];
const DELETE: &[(&str, &str)] = &[
    ("organizations", ""),
    ("organization_users", "A"),
    ("directus_users", ""),
    ("vehicles", ""),
    ("organization_vehicles", "A"),
    ("devices", ""),
    ("organization_devices", "A"),
    ("events", "A"),
    ("classes", "A"),
    ("entries", "A"),
    ("entry_crew", "AD"),
    ("entry_devices", "AD"),
    ("stages", "AD"),
    ("segments", "AD"),
    ("geofences", "AD"),
    ("waypoints", "AD"),
    ("speed_limit_zones", "AD"),
    ("penalty_formulas", "AD"),
    ("entry_segment_starts", "AD"),
    ("entry_crossings", "AD"), // a manual one
    ("entry_crossings/processor", ""),
    ("entry_penalties", ""),
    ("stage_results", ""),
    ("result_versions", ""),
    ("result_version_entries", ""),
];

/// One organisation's fixture rows (ids as text).
struct Org {
    id: String,
    slug: String,
    users: BTreeMap<char, String>,
    extra_user: String,
    membership_of_extra: String,
    vehicle: String,
    org_vehicle: String,
    device: String,
    imei: String,
    org_device: String,
    event: String,
    class: String,
    /// The participant's entry (they are its pilot).
    entry: String,
    /// An entry the participant does not race in: the Phase 3 rows the READ table is about.
    other_entry: String,
    past_entry: String,
    crew_of_participant: String,
    crew_of_extra: String,
    entry_device: String,
    course: Course,
}

/// One organisation's course and timing rows (Phases 2 and 3), in its current event.
struct Course {
    stage: String,
    geofence: String,
    segment: String,
    waypoint: String,
    zone: String,
    formula: String,
    start: String,
    crossing_manual: String,
    crossing_processor: String,
    crossing_own: String,
    penalty: String,
    penalty_own: String,
    result: String,
    result_own: String,
    result_official: String,
    /// A provisional version of the stage's results (db-init-post/013) and one of its entries.
    version: String,
    version_entry: String,
}

struct Suite {
    db: TestDb,
    port: u16,
    admin: String,
    seq: std::cell::Cell<u32>,
}

impl Suite {
    fn sql(&self, sql: &str) -> String {
        self.db.query(sql)
    }

    fn next(&self) -> u32 {
        self.seq.set(self.seq.get() + 1);
        self.seq.get()
    }

    /// Runs the SQL `make` builds from the next sequence number (unique names, orders, times).
    fn numbered(&self, make: impl FnOnce(u32) -> String) -> String {
        let n = self.next();
        self.sql(&make(n))
    }

    /// A Directus user with the TRM member role and PASSWORD, created through the API (hashing).
    fn user(&self, name: &str) -> String {
        let body = format!(
            "{{\"email\":\"{name}@example.com\",\"password\":\"{PASSWORD}\",\"role\":\"{MEMBER_ROLE}\",\"first_name\":\"{name}\"}}"
        );
        let (status, text) = http(self.port, "POST", "/users", Some(&self.admin), Some(&body));
        assert_eq!(status, 200, "create user {name}: {text}");
        let start = text.find("\"id\":\"").expect("id") + 6;
        text[start..start + 36].to_string()
    }

    /// A bare account (no password) for memberships and crews created during the checks.
    fn bare_user(&self) -> String {
        self.numbered(|n| format!(
            "INSERT INTO directus_users (id, email, status) VALUES (gen_random_uuid(), 'bare{n}@example.com', 'active') RETURNING id"
        ))
    }

    fn org(&self, slug: &str) -> Org {
        let id = self.sql(&format!(
            "INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Club {slug}', '{slug}') RETURNING id"
        ));
        let mut users = BTreeMap::new();
        for (letter, role) in ROLES.iter().filter(|(l, _)| *l != 'N') {
            let user = self.user(&format!("{role}-{slug}"));
            self.sql(&format!(
                "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{id}', '{user}', '{role}')"
            ));
            users.insert(*letter, user);
        }
        let extra_user = self.user(&format!("extra-{slug}"));
        let membership_of_extra = self.sql(&format!(
            "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{id}', '{extra_user}', 'viewer') RETURNING id"
        ));
        let vehicle = self.vehicle();
        let org_vehicle = self.org_vehicle(&id, &vehicle);
        let device = self.device();
        let imei = self.sql(&format!("SELECT imei FROM devices WHERE id = '{device}'"));
        let org_device = self.org_device(&id, &device);
        let event = self.event(&id, "now() - interval '1 day'", "now() + interval '1 day'");
        let past_event = self.event(&id, "now() - interval '30 days'", "now() - interval '20 days'");
        let class = self.class(&event);
        let past_class = self.class(&past_event);
        let entry = self.entry(&event, &class);
        let other_entry = self.entry(&event, &class);
        let past_entry = self.entry(&past_event, &past_class);
        let crew_of_participant = self.crew(&entry, &users[&'P'], "pilot");
        let crew_of_extra = self.crew(&entry, &extra_user, "co-pilot");
        let entry_device = self.entry_device(&entry, &device);
        // The same tracker raced the past event too (flagging its positions then is the marshal's
        // "not during the event" case).
        self.entry_device(&past_entry, &device);
        let course = self.course(&event, &entry, &other_entry);
        Org {
            id,
            slug: slug.into(),
            users,
            extra_user,
            membership_of_extra,
            vehicle,
            org_vehicle,
            device,
            imei,
            org_device,
            event,
            class,
            entry,
            other_entry,
            past_entry,
            crew_of_participant,
            crew_of_extra,
            entry_device,
            course,
        }
    }

    /// A stage with one segment between two geofences, a waypoint, a zone, a bracket, a start, and
    /// timing rows of `other` (and a few of `own`, the participant's entry).
    fn course(&self, event: &str, own: &str, other: &str) -> Course {
        let stage = self.stage(event);
        let geofence = self.geofence(event);
        let segment = self.segment(&stage, &geofence);
        let waypoint = self.waypoint(&segment);
        let zone = self.zone(&segment);
        let formula = self.formula(event);
        let start = self.start(other, &segment);
        let crossing_manual = self.crossing(other, &geofence, "manual");
        let crossing_processor = self.crossing(other, &geofence, "processor");
        let crossing_own = self.crossing(own, &geofence, "processor");
        let penalty = self.penalty(other, &stage);
        let penalty_own = self.penalty(own, &stage);
        let result = self.result(other, &stage, "provisional");
        let result_own = self.result(own, &stage, "provisional");
        let result_official = self.result(other, &self.stage(event), "official");
        let version = self.version(&stage);
        let version_entry = self.version_entry(&version);
        Course {
            stage,
            geofence,
            segment,
            waypoint,
            zone,
            formula,
            start,
            crossing_manual,
            crossing_processor,
            crossing_own,
            penalty,
            penalty_own,
            result,
            result_own,
            result_official,
            version,
            version_entry,
        }
    }
    /// A provisional version of `stage`'s results, published as a race director would (by SQL here).
    fn version(&self, stage: &str) -> String {
        self.sql(&format!("INSERT INTO result_versions (stage_id, kind) VALUES ({stage}, 'provisional') RETURNING id"))
    }
    fn version_entry(&self, version: &str) -> String {
        self.sql(&format!("SELECT min(id) FROM result_version_entries WHERE version_id = {version}"))
    }
    fn stage(&self, event: &str) -> String {
        self.numbered(|n| {
            format!("INSERT INTO stages (event_id, name, sort_order) VALUES ({event}, 'Stage {n}', {n}) RETURNING id")
        })
    }
    fn geofence(&self, event: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'CP{n}', 'checkpoint', {POLYGON_SQL}) RETURNING id"
        ))
    }
    fn segment(&self, stage: &str, geofence: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id, target_duration_seconds)
             VALUES ({stage}, {n}, 'special-stage', {geofence}, {geofence}, 3600) RETURNING id"
        ))
    }
    fn waypoint(&self, segment: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO waypoints (segment_id, location, tolerance_meters, sort_order) VALUES ({segment}, {POINT_SQL}, 90, {n}) RETURNING id"
        ))
    }
    fn zone(&self, segment: &str) -> String {
        self.sql(&format!(
            "INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh) VALUES ({segment}, 'Village', {POLYGON_SQL}, 50) RETURNING id"
        ))
    }
    fn formula(&self, event: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO penalty_formulas (event_id, belongs_to_type, type, offence_min, offence_max, operator, penalty_seconds)
             VALUES ({event}, 'event', 'late-start', {n}, {n} + 1, 'fixed', 60) RETURNING id"
        ))
    }
    fn start(&self, entry: &str, segment: &str) -> String {
        self.sql(&format!(
            "INSERT INTO entry_segment_starts (entry_id, segment_id, start_position, target_at)
             VALUES ({entry}, {segment}, 1, '2026-06-07T06:00:00Z') RETURNING id"
        ))
    }
    fn crossing(&self, entry: &str, geofence: &str, source: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind, source)
             VALUES ({entry}, {geofence}, '2026-06-07T06:00:00Z'::timestamptz + interval '{n} seconds', 'entry', '{source}') RETURNING id"
        ))
    }
    fn penalty(&self, entry: &str, stage: &str) -> String {
        self.numbered(|n| {
            format!(
                "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, seconds)
             VALUES ({entry}, {stage}, 'late-start', 'late-start-{n}', 60) RETURNING id"
            )
        })
    }
    fn result(&self, entry: &str, stage: &str, status: &str) -> String {
        self.sql(&format!(
            "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, total_seconds, status)
             VALUES ({entry}, {stage}, 3600, 3600, '{status}') RETURNING id"
        ))
    }

    fn vehicle(&self) -> String {
        self.sql("INSERT INTO vehicles (id, make, model) VALUES (gen_random_uuid(), 'Toyota', 'Land Cruiser 70') RETURNING id")
    }
    fn device(&self) -> String {
        self.numbered(|n| {
            format!(
                "INSERT INTO devices (id, imei, model) VALUES (gen_random_uuid(), '35{n:013}', 'FMB920') RETURNING id"
            )
        })
    }
    fn org_vehicle(&self, org: &str, vehicle: &str) -> String {
        self.sql(&format!(
            "INSERT INTO organization_vehicles (organization_id, vehicle_id) VALUES ('{org}', '{vehicle}') RETURNING id"
        ))
    }
    fn org_device(&self, org: &str, device: &str) -> String {
        self.sql(&format!(
            "INSERT INTO organization_devices (organization_id, device_id) VALUES ('{org}', '{device}') RETURNING id"
        ))
    }
    fn event(&self, org: &str, starts: &str, ends: &str) -> String {
        self.numbered(|n| {
            format!(
                "INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at)
             VALUES ('{org}', 'Rally {n}', 'rally-{n}', 'rally', {starts}, {ends}) RETURNING id"
            )
        })
    }
    fn class(&self, event: &str) -> String {
        self.numbered(|n| {
            format!("INSERT INTO classes (event_id, code, name) VALUES ({event}, 'C-{n}', 'Cars {n}') RETURNING id")
        })
    }
    fn entry(&self, event: &str, class: &str) -> String {
        self.numbered(|n| format!(
            "INSERT INTO entries (event_id, class_id, race_number, status) VALUES ({event}, {class}, {n}, 'registered') RETURNING id"
        ))
    }
    fn crew(&self, entry: &str, user: &str, role: &str) -> String {
        self.sql(&format!(
            "INSERT INTO entry_crew (entry_id, user_id, role) VALUES ({entry}, '{user}', '{role}') RETURNING id"
        ))
    }
    /// The device on the entry, registered first with the entry's organisation (db-init-post/023).
    fn entry_device(&self, entry: &str, device: &str) -> String {
        self.register_device_for(entry, device);
        self.sql(&format!("INSERT INTO entry_devices (entry_id, device_id) VALUES ({entry}, '{device}') RETURNING id"))
    }
    fn register_device_for(&self, entry: &str, device: &str) {
        self.sql(&format!(
            "INSERT INTO organization_devices (organization_id, device_id)
             SELECT e.organization_id, '{device}' FROM entries en JOIN events e ON e.id = en.event_id WHERE en.id = {entry}
             ON CONFLICT DO NOTHING"
        ));
    }

    /// A row of `collection` in `org` that nothing references (for delete checks).
    fn fresh(&self, collection: &str, org: &Org) -> String {
        match collection {
            "organizations" => self.sql(&format!(
                "INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Spare', 'spare-{}') RETURNING id",
                self.next()
            )),
            "organization_users" => self.sql(&format!(
                "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{}', '{}', 'viewer') RETURNING id",
                org.id,
                self.bare_user()
            )),
            "directus_users" => self.bare_user(),
            "vehicles" => {
                let v = self.vehicle();
                self.org_vehicle(&org.id, &v);
                v
            }
            "organization_vehicles" => self.org_vehicle(&org.id, &self.vehicle()),
            "devices" => {
                let d = self.device();
                self.org_device(&org.id, &d);
                d
            }
            "organization_devices" => self.org_device(&org.id, &self.device()),
            "events" => self.event(&org.id, "now()", "now() + interval '1 day'"),
            "classes" => self.class(&org.event),
            "entries" => self.entry(&org.event, &org.class),
            "entry_crew" => self.crew(&org.entry, &self.bare_user(), "mechanic"),
            "entry_devices" => self.entry_device(&org.entry, &self.device()),
            "stages" => self.stage(&org.event),
            "segments" => self.segment(&org.course.stage, &org.course.geofence),
            "geofences" => self.geofence(&org.event),
            "waypoints" => self.waypoint(&org.course.segment),
            "speed_limit_zones" => self.zone(&org.course.segment),
            "penalty_formulas" => self.formula(&org.event),
            "entry_segment_starts" => self.start(&self.entry(&org.event, &org.class), &org.course.segment),
            "entry_crossings" => self.crossing(&org.other_entry, &org.course.geofence, "manual"),
            "entry_crossings/processor" => self.crossing(&org.other_entry, &org.course.geofence, "processor"),
            "entry_penalties" => self.penalty(&org.other_entry, &org.course.stage),
            "stage_results" => self.result(&org.other_entry, &self.stage(&org.event), "provisional"),
            "result_versions" => self.version(&org.course.stage),
            "result_version_entries" => self.version_entry(&self.version(&org.course.stage)),
            other => panic!("no fresh row for {other}"),
        }
    }

    /// A create payload for `collection` in `org`, made by `user`.
    fn payload(&self, collection: &str, org: &Org, user: &str) -> String {
        let n = self.next();
        match collection {
            "organizations" => format!("{{\"name\":\"New {n}\",\"slug\":\"new-{n}\"}}"),
            "organization_users" => {
                format!("{{\"organization_id\":\"{}\",\"user_id\":\"{}\",\"role\":\"viewer\"}}", org.id, self.bare_user())
            }
            "directus_users" => format!("{{\"email\":\"made{n}@example.com\"}}"),
            "vehicles" => "{\"make\":\"Lada\",\"model\":\"Niva\"}".into(),
            "organization_vehicles" => {
                format!("{{\"organization_id\":\"{}\",\"vehicle_id\":\"{}\"}}", org.id, self.vehicle())
            }
            "devices" => format!("{{\"imei\":\"86{n:013}\",\"model\":\"FMB003\"}}"),
            "organization_devices" => {
                format!("{{\"organization_id\":\"{}\",\"device_id\":\"{}\"}}", org.id, self.device())
            }
            "events" => format!(
                "{{\"organization_id\":\"{}\",\"name\":\"E{n}\",\"slug\":\"e-{n}\",\"discipline\":\"rally\",\"starts_at\":\"2026-06-06T00:00:00Z\",\"ends_at\":\"2026-06-13T23:59:59Z\"}}",
                org.id
            ),
            "classes" => format!("{{\"event_id\":{},\"code\":\"X-{n}\",\"name\":\"X {n}\"}}", org.event),
            "entries" => format!("{{\"event_id\":{},\"class_id\":{},\"race_number\":{}}}", org.event, org.class, 1000 + n),
            "entry_crew" => format!(
                "{{\"entry_id\":{},\"user_id\":\"{user}\",\"role\":\"navigator\"}}",
                self.entry(&org.event, &org.class)
            ),
            "entry_devices" => {
                let (entry, device) = (self.entry(&org.event, &org.class), self.device());
                self.register_device_for(&entry, &device);
                format!("{{\"entry_id\":{entry},\"device_id\":\"{device}\"}}")
            }
            "entry_crew/someone-else" => format!(
                "{{\"entry_id\":{},\"user_id\":\"{}\",\"role\":\"navigator\"}}",
                self.entry(&org.event, &org.class),
                self.bare_user()
            ),
            "stages" => format!("{{\"event_id\":{},\"name\":\"S{n}\",\"sort_order\":{n}}}", org.event),
            "segments" => format!(
                "{{\"stage_id\":{},\"sort_order\":{n},\"type\":\"liaison\",\"entry_geofence_id\":{g},\"exit_geofence_id\":{g}}}",
                org.course.stage,
                g = org.course.geofence
            ),
            "geofences" => format!("{{\"event_id\":{},\"name\":\"G{n}\",\"geometry\":{POLYGON_JSON}}}", org.event),
            "waypoints" => format!(
                "{{\"segment_id\":{},\"location\":{{\"type\":\"Point\",\"coordinates\":[19.45,41.35]}},\"tolerance_meters\":90,\"sort_order\":{n}}}",
                org.course.segment
            ),
            "speed_limit_zones" => format!(
                "{{\"segment_id\":{},\"name\":\"Z{n}\",\"geometry\":{POLYGON_JSON},\"speed_limit_kmh\":50}}",
                org.course.segment
            ),
            "penalty_formulas" => format!(
                "{{\"event_id\":{},\"belongs_to_type\":\"event\",\"type\":\"max-time\",\"offence_min\":{n},\"offence_max\":{},\"operator\":\"fixed\",\"penalty_seconds\":60}}",
                org.event,
                n + 1
            ),
            "entry_segment_starts" => format!(
                "{{\"entry_id\":{},\"segment_id\":{},\"start_position\":2,\"target_at\":\"2026-06-07T06:01:00Z\"}}",
                self.entry(&org.event, &org.class),
                org.course.segment
            ),
            // No `source`: the permission's preset marks it manual.
            "entry_crossings" => format!(
                "{{\"entry_id\":{},\"geofence_id\":{},\"ts\":\"2026-06-08T06:00:{:02}Z\",\"kind\":\"exit\"}}",
                org.other_entry,
                org.course.geofence,
                n % 60
            ),
            "entry_crossings/processor" => format!(
                "{{\"entry_id\":{},\"geofence_id\":{},\"ts\":\"2026-06-09T06:00:{:02}Z\",\"kind\":\"exit\",\"source\":\"processor\"}}",
                org.other_entry,
                org.course.geofence,
                n % 60
            ),
            "entry_penalties" => format!(
                "{{\"entry_id\":{},\"type\":\"other\",\"penalty_key\":\"by-hand-{n}\",\"seconds\":60}}",
                org.other_entry
            ),
            "stage_results" => format!(
                "{{\"entry_id\":{},\"stage_id\":{},\"status\":\"provisional\"}}",
                self.entry(&org.event, &org.class),
                org.course.stage
            ),
            "result_versions" => format!("{{\"stage_id\":{},\"kind\":\"provisional\"}}", org.course.stage),
            "result_version_entries" => format!(
                "{{\"version_id\":{},\"entry_id\":{},\"change\":\"new\"}}",
                org.course.version, org.other_entry
            ),
            other => panic!("no payload for {other}"),
        }
    }
}

fn path(collection: &str) -> String {
    match collection {
        "directus_users" => "/users".into(),
        c => format!("/items/{c}"),
    }
}

#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    checked: usize,
}

impl Tally {
    /// One checked case: `failure` is what went wrong, None when it held.
    fn check(&mut self, failure: Option<String>) {
        self.checked += 1;
        self.failures.extend(failure);
    }

    /// One permission cell: the answer `status` is allowed exactly when `want`.
    fn expect(&mut self, role: &str, what: String, want: bool, status: u16, body: &str) {
        self.check((allowed(status) != want).then(|| {
            format!(
                "{role}: {what}: expected {}, got {status} {}",
                if want { "allowed" } else { "refused" },
                body.chars().take(160).collect::<String>()
            )
        }));
    }
}

/// Whether a list answer (`fields=id`) holds the row `id` (a UUID or an integer).
fn lists(body: &str, id: &str) -> bool {
    if id.len() == 36 {
        body.contains(&format!("\"id\":\"{id}\""))
    } else {
        body.contains(&format!("\"id\":{id}}}")) || body.contains(&format!("\"id\":{id},"))
    }
}

fn allowed(status: u16) -> bool {
    status == 200 || status == 202 || status == 204
}

/// The readable row of `collection` the READ table is about, in `org`.
fn read_row(collection: &str, org: &Org) -> String {
    match collection {
        "organizations" => org.id.clone(),
        "organization_users" => org.membership_of_extra.clone(),
        "directus_users" => org.extra_user.clone(),
        "vehicles" => org.vehicle.clone(),
        "organization_vehicles" => org.org_vehicle.clone(),
        "devices" => org.device.clone(),
        "organization_devices" => org.org_device.clone(),
        "events" => org.event.clone(),
        "classes" => org.class.clone(),
        "entries" => org.entry.clone(),
        "entry_crew" => org.crew_of_extra.clone(),
        "entry_devices" => org.entry_device.clone(),
        "stages" => org.course.stage.clone(),
        "segments" => org.course.segment.clone(),
        "geofences" => org.course.geofence.clone(),
        "waypoints" => org.course.waypoint.clone(),
        "speed_limit_zones" => org.course.zone.clone(),
        "penalty_formulas" => org.course.formula.clone(),
        "entry_segment_starts" => org.course.start.clone(),
        "entry_crossings" => org.course.crossing_manual.clone(),
        "entry_crossings/processor" => org.course.crossing_processor.clone(),
        "entry_crossings/own" => org.course.crossing_own.clone(),
        "entry_penalties" => org.course.penalty.clone(),
        "entry_penalties/own" => org.course.penalty_own.clone(),
        "stage_results" => org.course.result.clone(),
        "stage_results/own" => org.course.result_own.clone(),
        "stage_results/official" => org.course.result_official.clone(),
        "result_versions" => org.course.version.clone(),
        "result_version_entries" => org.course.version_entry.clone(),
        other => panic!("{other}"),
    }
}

/// The row an update cell changes in `org`: the shared fixture row, or a fresh one where the change
/// is one-way (an override, a publication).
fn update_row(suite: &Suite, cell: &str, org: &Org) -> String {
    match cell {
        "entry_penalties/override" => suite.fresh("entry_penalties", org),
        "stage_results/publish" => suite.fresh("stage_results", org),
        "entry_crossings/processor" => read_row(cell, org),
        other => read_row(other.split('/').next().unwrap_or(other), org),
    }
}

/// The other organisation's row an owner key of a MOVE cell is set to.
fn move_target(collection: &str, field: &str, other: &Org) -> String {
    let id = match field {
        "organization_id" => format!("\"{}\"", other.id),
        "event_id" => other.event.clone(),
        "class_id" => other.class.clone(),
        "entry_id" if collection == "entry_segment_starts" => other.other_entry.clone(),
        "entry_id" => other.entry.clone(),
        "stage_id" => other.course.stage.clone(),
        "segment_id" => other.course.segment.clone(),
        "geofence_id" => other.course.geofence.clone(),
        f => panic!("no move target for {collection}.{f}"),
    };
    format!("{{\"{field}\":{id}}}")
}

/// The payload of an UPDATE cell: one that changes nothing (Directus checks the permission all the
/// same), or the one-way change the cell is about (an override, a publication: on a fresh row, update_row).
fn update_payload(cell: &str) -> &'static str {
    match cell {
        "organizations" => "{\"name\":\"Club\"}",
        "organization_users" => "{\"role\":\"viewer\"}",
        "directus_users" => "{\"first_name\":\"extra\"}",
        "vehicles" => "{\"plate\":\"AA-001-AA\"}",
        "organization_vehicles" | "organization_devices" => "{\"registered_at\":\"2026-01-01T00:00:00Z\"}",
        "devices" => "{\"model\":\"FMB920\"}",
        "events" => "{\"name\":\"Rally\"}",
        "classes" => "{\"name\":\"Cars\"}",
        "entries/notes" => "{\"notes\":\"checked at CP2\"}",
        "entry_crew" => "{\"role\":\"co-pilot\"}",
        "entry_devices" => "{\"assigned_user_id\":null}",
        "stages" => "{\"start_interval_seconds\":60}",
        "segments" => "{\"target_duration_seconds\":3600}",
        "geofences" => "{\"kind\":\"checkpoint\"}",
        "waypoints" => "{\"tolerance_meters\":90}",
        "speed_limit_zones" => "{\"speed_limit_kmh\":50}",
        "penalty_formulas" => "{\"penalty_seconds\":60}",
        "entry_segment_starts/target_at" => "{\"target_at\":\"2026-06-07T06:00:00Z\"}",
        "entry_segment_starts/start_position" => "{\"start_position\":1}",
        "entry_crossings" | "entry_crossings/processor" => "{\"note\":\"seen by the marshal at CP1\"}",
        "entry_penalties/override" => {
            "{\"review_state\":\"overridden\",\"override_seconds\":30,\"override_reason\":\"stewards' decision\"}"
        }
        "entry_penalties/seconds" => "{\"seconds\":60}",
        "stage_results/publish" => "{\"status\":\"official\"}",
        "stage_results/times" => "{\"total_seconds\":3600}",
        "result_versions" => "{\"reason\":\"rewritten\"}",
        "result_version_entries" => "{\"change\":\"unchanged\"}",
        other => panic!("{other}"),
    }
}

/// POST /faulty-positions for `imei` over a window given as two SQL timestamps.
fn flag(suite: &Suite, token: &str, imei: &str, from: &str, to: &str) -> (u16, String) {
    let utc = |expr: &str| {
        suite.sql(&format!("SELECT to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"))
    };
    let body = format!(
        "{{\"imei\":\"{imei}\",\"from\":\"{}\",\"to\":\"{}\",\"faulty\":true,\"reason\":\"boundary suite\"}}",
        utc(from),
        utc(to)
    );
    http(suite.port, "POST", "/faulty-positions", Some(token), Some(&body))
}

#[test]
fn every_role_does_exactly_what_its_policy_allows_and_nothing_across_organisations() {
    let stack = ApiStack::start(
        "access_boundary",
        STREAM,
        // Directus's data cache on Redis, emptied by every write (deploy/ keeps it off; with it on, the
        // $CURRENT_USER values the filters read are cached too: the harder case).
        &[("CACHE_ENABLED", "true"), ("CACHE_STORE", "redis"), ("CACHE_AUTO_PURGE", "true")],
        BOOT,
    );
    let ApiStack { db, redis, boot, admin } = stack;
    assert!(boot.log().contains("access file applied"), "the access step ran:\n{}", boot.log());
    let suite = Suite { db, port: boot.ports.directus, admin, seq: Default::default() };

    let a = suite.org("club-a");
    let b = suite.org("club-b");
    let none = suite.user("nobody");
    let mut tally = Tally::default();

    let mut tokens: BTreeMap<(char, String), String> = BTreeMap::new();
    for org in [&a, &b] {
        for (letter, role) in ROLES.iter().filter(|(l, _)| *l != 'N') {
            tokens.insert(
                (*letter, org.slug.clone()),
                login(suite.port, &format!("{role}-{}@example.com", org.slug), PASSWORD),
            );
        }
    }
    let none_token = login(suite.port, "nobody@example.com", PASSWORD);

    // Every role of club A (and the user in no organisation, whose "own" organisation is A here).
    for (letter, role) in ROLES {
        let token = if letter == 'N' { none_token.clone() } else { tokens[&(letter, a.slug.clone())].clone() };
        let me = if letter == 'N' { none.clone() } else { a.users[&letter].clone() };
        let get = |url: String| http(suite.port, "GET", &url, Some(&token), None);

        for (collection, who) in READ {
            let want = who.contains(letter);
            let (s, body) = get(format!("{}/{}?fields=id", path(collection), read_row(collection, &a)));
            tally.expect(role, format!("read {collection} of own organisation"), want, s, &body);
            let (s, body) = get(format!("{}/{}?fields=id", path(collection), read_row(collection, &b)));
            tally.expect(role, format!("read {collection} of the other organisation"), false, s, &body);
        }
        for (cell, who) in READ_ROWS {
            let collection = cell.split('/').next().unwrap_or(cell);
            let (s, body) = get(format!("{}/{}?fields=id", path(collection), read_row(cell, &a)));
            tally.expect(role, format!("read {cell} of own organisation"), who.contains(letter), s, &body);
            let (s, body) = get(format!("{}/{}?fields=id", path(collection), read_row(cell, &b)));
            tally.expect(role, format!("read {cell} of the other organisation"), false, s, &body);
        }
        // Listing never shows the other organisation's rows (nor rows the role may not read).
        for (cell, who) in READ.iter().chain(READ_ROWS) {
            let collection = cell.split('/').next().unwrap_or(cell);
            let (s, body) = get(format!("{}?fields=id&limit=-1", path(collection)));
            tally.check(
                (s == 200 && lists(&body, &read_row(cell, &b)))
                    .then(|| format!("{role}: the list of {collection} shows the other organisation's row ({cell})")),
            );
            tally.check(
                (s == 200 && !who.contains(letter) && lists(&body, &read_row(cell, &a)))
                    .then(|| format!("{role}: the list of {collection} shows a row the role may not read ({cell})")),
            );
        }
        // The timing ledger is a raw table, never a collection, and so is its per-row view (031):
        // nobody reads or writes either through Directus.
        for ledger in ["timing_ledger", "timing_ledger_rows"] {
            for (method, body) in [("GET", None), ("POST", Some("{\"reason\":\"x\"}"))] {
                let (s, text) = http(suite.port, method, &format!("/items/{ledger}"), Some(&token), body);
                tally.expect(role, format!("{method} {ledger}"), false, s, &text);
            }
        }
        // Own account and own membership: every member; own account also the user in no organisation.
        let (s, body) = get(format!("/users/{me}?fields=id"));
        tally.expect(role, "read own account".into(), true, s, &body);
        let (s, body) =
            http(suite.port, "PATCH", &format!("/users/{me}"), Some(&token), Some("{\"phone\":\"+355 69 000 0000\"}"));
        tally.expect(role, "update own account".into(), true, s, &body);
        let (s, body) = http(
            suite.port,
            "PATCH",
            &format!("/users/{me}"),
            Some(&token),
            Some(&format!("{{\"role\":\"{MEMBER_ROLE}\"}}")),
        );
        tally.expect(role, "change own Directus role".into(), false, s, &body);
        if letter != 'N' {
            let mine = suite.sql(&format!(
                "SELECT id FROM organization_users WHERE organization_id = '{}' AND user_id = '{me}'",
                a.id
            ));
            let (s, body) = get(format!("/items/organization_users/{mine}?fields=id,role"));
            tally.expect(role, "read own membership".into(), true, s, &body);
        }
        if letter == 'P' {
            let (s, body) = get(format!("/items/entry_crew/{}?fields=id", a.crew_of_participant));
            tally.expect(role, "read own crew row".into(), true, s, &body);
        }

        for (cell, who) in CREATE {
            let want = who.contains(letter);
            let collection = cell.split('/').next().unwrap_or(cell);
            let body = suite.payload(cell, &a, &me);
            let (s, text) = http(suite.port, "POST", &path(collection), Some(&token), Some(&body));
            tally.expect(role, format!("create {cell} in own organisation"), want, s, &text);
            if !matches!(*cell, "vehicles" | "devices" | "organizations" | "directus_users") {
                let body = suite.payload(cell, &b, &me);
                let (s, text) = http(suite.port, "POST", &path(collection), Some(&token), Some(&body));
                tally.expect(role, format!("create {cell} in the other organisation"), false, s, &text);
            }
        }

        for (cell, who) in UPDATE {
            let want = who.contains(letter);
            let collection = cell.split('/').next().unwrap_or(cell);
            for (org, own) in [(&a, true), (&b, false)] {
                let payload = match *cell {
                    "entries/class_id" => format!("{{\"class_id\":{}}}", org.class),
                    other => update_payload(other).to_string(),
                };
                let row = update_row(&suite, cell, org);
                let (s, text) =
                    http(suite.port, "PATCH", &format!("{}/{row}", path(collection)), Some(&token), Some(&payload));
                let whose = if own { "own organisation" } else { "the other organisation" };
                tally.expect(role, format!("update {cell} of {whose}"), want && own, s, &text);
                // Who overrode a penalty is filled in from the login (the permission's preset).
                if own && want && *cell == "entry_penalties/override" && allowed(s) {
                    let by = suite.sql(&format!("SELECT overridden_by FROM entry_penalties WHERE id = {row}"));
                    tally.check((by != me).then(|| format!("{role}: overridden_by is {by:?}, not the user")));
                }
                // A start target changed by a person is kept by a re-materialization (preset).
                if own && want && *cell == "entry_segment_starts/target_at" && allowed(s) {
                    let kept = suite.sql(&format!("SELECT manual_override FROM entry_segment_starts WHERE id = {row}"));
                    tally.check(
                        (kept != "t").then(|| format!("{role}: manual_override is {kept:?} after target_at changed")),
                    );
                }
            }
        }

        for (collection, field) in MOVE {
            let payload = move_target(collection, field, &b);
            let (s, text) = http(
                suite.port,
                "PATCH",
                &format!("{}/{}", path(collection), read_row(collection, &a)),
                Some(&token),
                Some(&payload),
            );
            tally.expect(role, format!("move {collection} into the other organisation ({field})"), false, s, &text);
        }

        for (cell, who) in DELETE {
            let want = who.contains(letter);
            let collection = cell.split('/').next().unwrap_or(cell);
            let own = suite.fresh(cell, &a);
            let (s, text) = http(suite.port, "DELETE", &format!("{}/{own}", path(collection)), Some(&token), None);
            tally.expect(role, format!("delete {cell} of own organisation"), want, s, &text);
            let other = suite.fresh(cell, &b);
            let (s, text) = http(suite.port, "DELETE", &format!("{}/{other}", path(collection)), Some(&token), None);
            tally.expect(role, format!("delete {cell} of the other organisation"), false, s, &text);
        }

        // The marshal writes notes during the event only.
        let (s, text) = http(
            suite.port,
            "PATCH",
            &format!("/items/entries/{}", a.past_entry),
            Some(&token),
            Some("{\"notes\":\"late\"}"),
        );
        tally.expect(role, "update notes of an entry of a past event".into(), letter == 'A' || letter == 'D', s, &text);

        // Flagging positions (the Phase 5 endpoint): the marshal during the event only.
        for (when, who) in FLAG {
            let (from, to) = match *when {
                "current event" => ("now() - interval '2 hours'", "now() - interval '1 hour'"),
                _ => ("now() - interval '25 days'", "now() - interval '24 days'"),
            };
            let (s, text) = flag(&suite, &token, &a.imei, from, to);
            tally.expect(
                role,
                format!("flag positions of own organisation's device, {when}"),
                who.contains(letter),
                s,
                &text,
            );
            let (s, text) = flag(&suite, &token, &b.imei, from, to);
            tally.expect(role, format!("flag positions of the other organisation's device, {when}"), false, s, &text);
        }
    }

    // A person with different roles in the two clubs: race-director of A, viewer of B.
    let dual = suite.user("dual");
    suite.sql(&format!("INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{}', '{dual}', 'race-director'), ('{}', '{dual}', 'viewer')", a.id, b.id));
    let token = login(suite.port, "dual@example.com", PASSWORD);
    for (what, method, url, body, want) in [
        (
            "dual: update entry notes in the club they direct",
            "PATCH",
            format!("/items/entries/{}", a.entry),
            Some("{\"notes\":\"ok\"}"),
            true,
        ),
        (
            "dual: update entry notes in the club they only watch",
            "PATCH",
            format!("/items/entries/{}", b.entry),
            Some("{\"notes\":\"no\"}"),
            false,
        ),
        (
            "dual: read entries of the club they watch",
            "GET",
            format!("/items/entries/{}?fields=id", b.entry),
            None,
            true,
        ),
        (
            "dual: read entry devices of the club they direct",
            "GET",
            format!("/items/entry_devices/{}?fields=id", a.entry_device),
            None,
            true,
        ),
        (
            "dual: read entry devices of the club they watch",
            "GET",
            format!("/items/entry_devices/{}?fields=id", b.entry_device),
            None,
            false,
        ),
        (
            "dual: read penalties in the club they direct",
            "GET",
            format!("/items/entry_penalties/{}?fields=id", a.course.penalty),
            None,
            true,
        ),
        (
            "dual: read penalties in the club they watch",
            "GET",
            format!("/items/entry_penalties/{}?fields=id", b.course.penalty),
            None,
            false,
        ),
        (
            "dual: change a segment in the club they watch",
            "PATCH",
            format!("/items/segments/{}", b.course.segment),
            Some("{\"target_duration_seconds\":3600}"),
            false,
        ),
    ] {
        let (s, text) = http(suite.port, method, &url, Some(&token), body);
        tally.expect("dual", what.to_string(), want, s, &text);
    }

    // A row the database's rules refuse is a 400 that names the rule, for any user (the extension
    // `database-rules`; Directus alone answers 500 "An unexpected error occurred" to non-admins).
    let director_a = tokens[&('D', a.slug.clone())].clone();
    let bow_tie = r#"{"type":"Polygon","coordinates":[[[19.0,41.0],[20.0,42.0],[20.0,41.0],[19.0,42.0],[19.0,41.0]]]}"#;
    for (what, method, url, body, needle) in [
        (
            "a self-intersecting geofence",
            "POST",
            "/items/geofences".to_string(),
            format!("{{\"event_id\":{},\"name\":\"bow tie\",\"geometry\":{bow_tie}}}", a.event),
            "geofences.geometry: the polygon is not valid",
        ),
        (
            "an entry moved into another event's class",
            "PATCH",
            format!("/items/entries/{}", a.entry),
            format!("{{\"class_id\":{}}}", b.class),
            "(rule entries_same_event)",
        ),
    ] {
        let (s, text) = http(suite.port, method, &url, Some(&director_a), Some(&body));
        tally.check(
            (s != 400 || !text.contains(needle) || !text.contains("INVALID_PAYLOAD"))
                .then(|| format!("race-director: {what}: expected 400 naming {needle:?}, got {s} {text}")),
        );
    }

    // Removed from the organisation: access ends at once (same token, no restart), with Directus's
    // cache on: the viewer's answer and $CURRENT_USER values were cached by the reads before.
    let viewer_a = tokens[&('V', a.slug.clone())].clone();
    let url = format!("/items/events/{}?fields=id", a.event);
    for _ in 0..2 {
        let (s, text) = http(suite.port, "GET", &url, Some(&viewer_a), None);
        tally.expect("viewer", "read the event before removal".into(), true, s, &text);
    }
    let cached = redis.cli(&["--scan", "--pattern", "*filter-context*"]);
    assert!(
        !cached.trim().is_empty(),
        "Directus's cache holds no $CURRENT_USER values: the removal below would prove nothing about the cache"
    );
    let admin_a = tokens[&('A', a.slug.clone())].clone();
    let membership = suite.sql(&format!(
        "SELECT id FROM organization_users WHERE organization_id = '{}' AND user_id = '{}'",
        a.id, a.users[&'V']
    ));
    let (s, text) =
        http(suite.port, "DELETE", &format!("/items/organization_users/{membership}"), Some(&admin_a), None);
    assert_eq!(s, 204, "the org-admin removes the viewer: {text}");
    let (s, text) = http(suite.port, "GET", &url, Some(&viewer_a), None);
    tally.check((s != 403).then(|| format!("removed viewer still reads the event: {s} {text}")));
    let (s, text) = http(suite.port, "GET", "/items/events?fields=id", Some(&viewer_a), None);
    tally.check(
        (s != 200 || lists(&text, &a.event)).then(|| format!("removed viewer still lists the event: {s} {text}")),
    );

    let Tally { failures, checked } = tally;
    let errors: Vec<String> = boot.log().lines().filter(|l| l.contains("ERROR")).take(20).map(str::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}\nDirectus errors:\n{}",
        failures.len(),
        failures.join("\n"),
        errors.join("\n")
    );
    eprintln!("permission boundary: {checked} checks passed");
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert!(code == 0 || code == 143, "exit {code}; log:\n{log}");
}
