/// <reference path="./.sst/platform/config.d.ts" />
// SST app definition. Deliberately minimal until the AWS pipeline lands: infra/ will hold one file per concern.
export default $config({
  app(input) {
    return {
      name: "colab-backup",
      home: "aws",
      // Backups must outlive a torn-down production stage.
      removal: input?.stage === "production" ? "retain" : "remove",
    };
  },
  async run() {},
});
