from notewell.kernel.cli import main

main()
