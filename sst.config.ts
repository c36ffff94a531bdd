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
    // Before anything is built: SST installs better-sqlite3 (native) with the deployer's Node, which must be the functions'
    // (infra/native-build.ts). `sst dev` runs functions locally on local node_modules and installs nothing.
    const { refuseForeignNativeBuild } = await import("./infra/native-build.ts");
    if (!$dev) refuseForeignNativeBuild();
    // Imported here, not at the top: SST's globals ($app, sst, aws) exist only while run() executes.
    const { deploy } = await import("./infra/index.ts");
    return deploy();
  },
});
