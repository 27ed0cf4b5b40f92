import CFuzzerDriver
import Glibc

// `openctrl-fuzz <target> [libFuzzer flags and corpus directories]`, or `openctrl-fuzz --list`.
//
// One binary serves every target, so one build covers them all. The target name is also put in
// the environment because libFuzzer re-executes its own argv (minimisation, -fork, -jobs) after
// this program has removed the name from it.

let arguments = CommandLine.arguments
if arguments.count > 1 && arguments[1] == "--list" {
    for target in FuzzTargets.all {
        print("\(target.name)\t\(target.summary)")
    }
    exit(0)
}
var forwarded = arguments
if arguments.count > 1 && FuzzTargets.named(arguments[1]) != nil {
    setenv(FuzzTargets.environmentKey, arguments[1], 1)
    forwarded.remove(at: 1)
}
guard FuzzTargets.selected != nil else {
    let names = FuzzTargets.all.map { $0.name }.joined(separator: ", ")
    var usage = "usage: openctrl-fuzz <target> [libFuzzer options] [corpus...]\ntargets: \(names)\n"
    usage.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var argc = CInt(forwarded.count)
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = .allocate(capacity: forwarded.count + 1)
for (index, argument) in forwarded.enumerated() {
    argv?[index] = strdup(argument)
}
argv?[forwarded.count] = nil
exit(LLVMFuzzerRunDriver(&argc, &argv) { FuzzTargets.testOneInput($0, $1) })
