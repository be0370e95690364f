/**
 * The part of the access file (`snapshots/access.yaml`, section `membership`) the extensions act on:
 * the organisation roles (and the per-role alias on directus_users the access filters read), what a
 * role may do beyond Directus's permissions (`capabilities`), the relations a non-admin's query may walk
 * (`filter_relations`) and the field that groups a sortable collection's rows (`sort_groups`).
 * Owns nothing: it is a copy, and `tests/access_docs.rs` fails when it differs from the access file
 * (the JSON between the markers is compared, key by key). Edit the access file, then paste its
 * `membership` section here as JSON.
 */

export interface AccessModel {
	organization: string;
	roles: Record<string, string>;
	capabilities: Record<string, string[]>;
	filter_relations: Record<string, string[]>;
	sort_groups: Record<string, string>;
}

export const ACCESS_MODEL: AccessModel = /* access-model:begin */ {
	"organization": "organization_id",
	"roles": {
		"marshal": "marshal_of",
		"org-admin": "org_admin_of",
		"participant": "participant_of",
		"race-director": "race_director_of",
		"timekeeper": "timekeeper_of",
		"viewer": "viewer_of"
	},
	"capabilities": {
		"flag-positions": ["org-admin", "race-director"],
		"flag-positions-while-active": ["marshal"],
		"preview-penalties": ["org-admin", "race-director"]
	},
	"filter_relations": {
		"classes": ["event_id"],
		"entries": ["class_id", "event_id"],
		"entry_crew": ["entry_id"],
		"entry_crossings": ["entry_id", "geofence_id"],
		"entry_devices": ["entry_id"],
		"entry_penalties": ["entry_id", "formula_id", "segment_id", "stage_id"],
		"entry_segment_starts": ["entry_id", "segment_id"],
		"events": ["organization_id"],
		"geofences": ["event_id"],
		"organization_devices": ["device_id", "organization_id"],
		"organization_users": ["organization_id"],
		"organization_vehicles": ["organization_id", "vehicle_id"],
		"penalty_formula_versions": ["event_id"],
		"penalty_formulas": ["event_id", "segment_id", "speed_limit_zone_id", "stage_id"],
		"result_version_entries": ["entry_id", "version_id"],
		"result_versions": ["stage_id"],
		"segments": ["entry_geofence_id", "exit_geofence_id", "stage_id"],
		"speed_limit_zones": ["segment_id"],
		"stage_results": ["entry_id", "stage_id"],
		"stages": ["event_id", "start_order_input_stage_id"],
		"waypoints": ["segment_id"]
	},
	"sort_groups": {
		"classes": "event_id",
		"segments": "stage_id",
		"stages": "event_id",
		"waypoints": "segment_id"
	}
} /* access-model:end */;

/** The organisation roles that hold `capability`. */
export function rolesWith(capability: string): Set<string> {
	return new Set(ACCESS_MODEL.capabilities[capability] ?? []);
}
