from normspec.cli import main

main()
