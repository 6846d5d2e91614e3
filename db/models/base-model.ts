// Shared model behaviour. Column names are mapped by the Knex instance (knexSnakeCaseMappers).
import { Model } from "objection";

export class BaseModel extends Model {
  // The database keeps created_at/updated_at (defaults and a trigger): never send them.
  override $formatDatabaseJson(json: Record<string, unknown>) {
    const out = super.$formatDatabaseJson(json);
    delete out.createdAt;
    delete out.updatedAt;
    return out;
  }
}
