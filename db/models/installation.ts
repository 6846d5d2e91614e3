import { type Modifiers, type QueryBuilder } from "objection";
import { BaseModel } from "./base-model";
import type { Tier } from "./rate-limit";
import { RateLimit } from "./rate-limit";
import { Repository } from "./repository";

export class Installation extends BaseModel {
  static override tableName = "installations";

  id!: number;
  accountId!: number;
  accountLogin!: string;
  accountType!: "User" | "Organization" | "Enterprise";
  tier!: Tier;
  permissions!: Record<string, string>;
  suspendedAt!: Date | null;
  deletedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  static override modifiers: Modifiers<QueryBuilder<Installation>> = {
    /** Installed, not suspended: may run jobs. */
    usable(query) {
      query.whereNull("installations.deletedAt").whereNull("installations.suspendedAt");
    },
  };

  static override relationMappings = () => ({
    repositories: {
      relation: BaseModel.HasManyRelation,
      modelClass: Repository,
      join: { from: "installations.id", to: "repositories.installationId" },
    },
    plan: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: RateLimit,
      join: { from: "installations.tier", to: "rateLimits.tier" },
    },
  });
}
