import type { Knex } from "knex";
import { BaseModel } from "./base-model";

/** What an audit entry says: who did what to which subject, from where. */
export interface AuditRecord {
  actor: string;
  action: string;
  subjectType?: string | null;
  subjectId?: string | null;
  details?: Record<string, unknown>;
  ip?: string | null;
}

/** A security-relevant event. Append-only. */
export class AuditLogEntry extends BaseModel {
  static override tableName = "audit_log";

  id!: number;
  actor!: string;
  action!: string;
  subjectType!: string | null;
  subjectId!: string | null;
  details!: Record<string, unknown>;
  ip!: string | null;
  createdAt!: Date;

  static override jsonAttributes = ["details"];

  /** The one way an audit entry is written (in the caller's transaction when given one). */
  static async record(db: Knex | Knex.Transaction, entry: AuditRecord): Promise<void> {
    await AuditLogEntry.query(db).insert({
      actor: entry.actor,
      action: entry.action,
      subjectType: entry.subjectType ?? null,
      subjectId: entry.subjectId ?? null,
      details: entry.details ?? {},
      ip: entry.ip ?? null,
    });
  }
}
