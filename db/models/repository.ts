import { type Modifiers, type QueryBuilder } from "objection";
import { BaseModel } from "./base-model";
import { BisectJob } from "./bisect-job";
import { Installation } from "./installation";

export class Repository extends BaseModel {
  static override tableName = "repositories";

  id!: number;
  installationId!: number;
  owner!: string;
  name!: string;
  private!: boolean;
  defaultBranch!: string | null;
  removedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  get fullName(): string {
    return `${this.owner}/${this.name}`;
  }

  static override modifiers: Modifiers<QueryBuilder<Repository>> = {
    active(query) {
      query.whereNull("repositories.removedAt");
    },
  };

  static override relationMappings = () => ({
    installation: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: Installation,
      join: { from: "repositories.installationId", to: "installations.id" },
    },
    jobs: {
      relation: BaseModel.HasManyRelation,
      modelClass: BisectJob,
      join: { from: "repositories.id", to: "bisectJobs.repositoryId" },
    },
  });
}
