import AttestCLI
import Foundation

exit(await AttestMain.run())
