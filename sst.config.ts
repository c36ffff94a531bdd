/// <reference path="./.sst/platform/config.d.ts" />
// SST app definition: name, home, removal policy; run() builds the stage from infra/ (one file per concern, see infra/README.md).
export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "colab-backup",
      home: "aws",
      // Backups must outlive a torn-down production stage, and `sst remove` must not run on it at all.
      removal: production ? "retain" : "remove",
      protect: production,
    };
  },
  async run() {
    // Imported here, not at the top: SST's globals ($app, sst, aws) exist only while run() executes.
    const { deploy } = await import("./infra/index.ts");
    return deploy();
  },
});
