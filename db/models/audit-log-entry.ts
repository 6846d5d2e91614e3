import { BaseModel } from "./base-model";

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
}
