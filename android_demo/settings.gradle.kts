// FedLite Android demo: the app and its plain-Java protocol/codec core.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google() // LiteRT and AndroidX live on Google's Maven repository
        mavenCentral()
    }
}

rootProject.name = "fedlite-android"
include(":core", ":app")
