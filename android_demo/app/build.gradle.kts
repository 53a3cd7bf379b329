plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.fedlite.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.fedlite.demo"
        minSdk = 26 // java.util.Base64, the AndroidX keystore APIs used by DeviceKeys
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    androidResources {
        noCompress += "tflite" // the interpreter maps models straight from the APK
    }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.litert) // org.tensorflow.lite.Interpreter with runSignature; no Flex/select-ops
    implementation(libs.work.runtime)
    implementation(libs.appcompat)
    implementation(libs.lifecycle.runtime)
    implementation(libs.coroutines.android)
    implementation(libs.bouncycastle) // software Ed25519 where the keystore has none
}
