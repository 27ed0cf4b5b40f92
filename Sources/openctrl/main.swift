import Glibc
import OpenCtrlServer

exit(OpenCtrlMain.run(CommandLine.arguments))
