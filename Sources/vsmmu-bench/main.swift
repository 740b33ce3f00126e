// vsmmu-bench [model|socket|sync|all] [iterations]
// Prints each figure beside a baseline measured in the same run.
let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "all"
let count = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) : nil
switch mode {
case "model": try runModelBenchmark(iterations: count ?? 200_000)
case "socket": try runSocketBenchmark(iterations: count ?? 20_000)
case "sync": try runCommandSyncBenchmark(iterations: count ?? 5_000)
case "all":
    try runModelBenchmark(iterations: count ?? 200_000)
    print("")
    try runSocketBenchmark(iterations: count ?? 20_000)
    print("")
    try runCommandSyncBenchmark(iterations: count ?? 5_000)
default:
    print("usage: vsmmu-bench [model|socket|sync|all] [iterations]")
}
